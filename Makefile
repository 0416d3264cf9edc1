# The two commands a newcomer needs: `make lab` and `make test`.
# Everything else here is what those two call. The two environments install in parallel, with uv
# (from PyPI, into .venv-tools on first use: several times faster than pip) or, where uv cannot be
# had or INSTALLER=pip is given, with each environment's own pip.

PYTHON ?= python3
VENV   := .venv
SERVER := .venv-server
RESULTS := .test-results
PIP    := --quiet --disable-pip-version-check
TOOLS  := .venv-tools
UV     := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
INSTALLER ?= uv
# Parallel test workers (pytest-xdist; a notebook's cells stay on one worker); each has its own backend.
TEST_JOBS ?= 4
LAB_PORT ?= 8888
# $(call install,<venv>,<pip arguments>)
install = if [ "$(INSTALLER)" = uv ] && [ -x $(UV) ]; then echo "uv: $(2) into $(1)"; \
          $(UV) pip install --quiet --python $(1)/bin/python $(2); \
          else echo "pip: $(2) into $(1)"; $(1)/bin/pip install $(PIP) $(2); fi
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-localstack matrix student setup setup-dev lint format bench up down clean

lab:                                ## set up, start the emulator, open JupyterLab on the first lesson
	@$(MAKE) --no-print-directory -j2 setup
	$(VENV)/bin/labkit up
	$(VENV)/bin/labkit student
	@echo "Opening JupyterLab on student/00-start-here: open the http://127.0.0.1:... link printed below."
	@echo "student/ holds the lessons with the exercises blank, for you to write; the lessons next to it are solved."
	@echo "Stop: Ctrl-C here stops JupyterLab; 'make down' stops the AWS emulator."
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.root_dir=notebooks \
	    --LabApp.default_url=/lab/tree/student/00-start-here.ipynb $(AS_ROOT)

test:                               ## lint; unit, parity and browser tests, and every notebook under nbval
	@$(MAKE) --no-print-directory -j2 setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy labkit
	@mkdir -p $(RESULTS)
	LABKIT_MATRIX_OUT=$(RESULTS)/matrix-embedded.json $(VENV)/bin/pytest -n $(TEST_JOBS) --dist loadfile

test-localstack: setup-dev          ## parity tests and every notebook on LocalStack 4.14, run on this host (needs Python 3.13)
	@mkdir -p $(RESULTS)
	LABKIT_MATRIX_OUT=$(RESULTS)/matrix-localstack.json $(VENV)/bin/python tests/localstack.py

matrix:                             ## after the test runs: rewrite the README's lesson × backend table
	$(VENV)/bin/python tests/backend_matrix.py $(wildcard $(RESULTS)/matrix-*.json)

setup: $(VENV)/.lab $(SERVER)/.installed
setup-dev: $(VENV)/.dev $(SERVER)/.installed

$(UV):
	-@[ "$(INSTALLER)" != uv ] || { $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install $(PIP) "uv==$(UV_VERSION)"; } \
	    || { echo "uv is not available here: installing with pip"; rm -rf $(TOOLS); }

$(VENV)/.lab: requirements.txt pyproject.toml | $(UV)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(call install,$(VENV),-r requirements.txt)
	@# No news dialog over the first lesson (JupyterLab's announcements), for this environment only.
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix "@jupyterlab/apputils-extension:announcements" >/dev/null 2>&1
	touch $@

$(VENV)/.dev: $(VENV)/.lab requirements-dev.txt | $(UV)
	@$(call install,$(VENV),-r requirements-dev.txt)
	touch $@

$(SERVER)/.installed: requirements-server.txt | $(UV)
	test -x $(SERVER)/bin/python || $(PYTHON) -m venv $(SERVER)
	@$(call install,$(SERVER),-r requirements-server.txt)
	touch $@

lint: setup-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: setup-dev                    ## embedded vs LocalStack, pip vs uv, serial vs parallel; each lesson's slowest cell (~20 min)
	$(VENV)/bin/python benchmarks/compare.py $(BENCH_ARGS)
	$(VENV)/bin/python benchmarks/speed.py
	$(VENV)/bin/python benchmarks/notebooks.py
	$(VENV)/bin/python benchmarks/simulator.py
	$(VENV)/bin/python benchmarks/classroom.py --learners 40 --messages 400

student: setup                      ## (re)write notebooks/student/: the lessons with exercises blank (keeps your edits)
	$(VENV)/bin/labkit student

up: setup
	$(VENV)/bin/labkit up

down:
	-$(VENV)/bin/labkit down

clean: down
	rm -rf $(VENV) $(SERVER) $(TOOLS) .venv-localstack $(RESULTS)
