# The two commands a newcomer needs: `make lab` and `make test`.
# Everything else here is what those two call. The two environments install in parallel.

PYTHON ?= python3
VENV   := .venv
SERVER := .venv-server
RESULTS := .test-results
PIP    := --quiet --disable-pip-version-check
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-localstack matrix student setup setup-dev lint format bench up down clean

lab:                                ## set up, start the emulator, open JupyterLab on notebooks/
	@$(MAKE) --no-print-directory -j2 setup
	$(VENV)/bin/labkit up
	$(VENV)/bin/labkit student
	@echo "Opening JupyterLab on notebooks/: open the http://127.0.0.1:... link printed below, then student/00-start-here."
	@echo "student/ holds the lessons with the exercises blank, for you to write; the lessons next to it are solved."
	@echo "Stop: Ctrl-C here stops JupyterLab; 'make down' stops the AWS emulator."
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=8888 --ServerApp.root_dir=notebooks $(AS_ROOT)

test:                               ## lint; unit, parity and browser tests, and every notebook under nbval
	@$(MAKE) --no-print-directory -j2 setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy labkit
	@mkdir -p $(RESULTS)
	LABKIT_MATRIX_OUT=$(RESULTS)/matrix-embedded.json $(VENV)/bin/pytest

test-localstack: setup-dev          ## parity tests and every notebook on LocalStack 4.14, run on this host (needs Python 3.13)
	@mkdir -p $(RESULTS)
	LABKIT_MATRIX_OUT=$(RESULTS)/matrix-localstack.json $(VENV)/bin/python tests/localstack.py

matrix:                             ## after the test runs: rewrite the README's lesson × backend table
	$(VENV)/bin/python tests/backend_matrix.py $(wildcard $(RESULTS)/matrix-*.json)

setup: $(VENV)/.lab $(SERVER)/.installed
setup-dev: $(VENV)/.dev $(SERVER)/.installed

$(VENV)/.lab: requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.lab requirements-dev.txt
	$(VENV)/bin/pip install $(PIP) -r requirements-dev.txt
	touch $@

$(SERVER)/.installed: requirements-server.txt
	test -x $(SERVER)/bin/python || $(PYTHON) -m venv $(SERVER)
	$(SERVER)/bin/pip install $(PIP) -r requirements-server.txt
	touch $@

lint: setup-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: setup-dev                    ## embedded vs LocalStack in one table (~9 min; BENCH_ARGS=--quick skips the course runs)
	$(VENV)/bin/python benchmarks/compare.py $(BENCH_ARGS)
	$(VENV)/bin/python benchmarks/simulator.py

student: setup                      ## (re)write notebooks/student/: the lessons with exercises blank (keeps your edits)
	$(VENV)/bin/labkit student

up: setup
	$(VENV)/bin/labkit up

down:
	-$(VENV)/bin/labkit down

clean: down
	rm -rf $(VENV) $(SERVER) .venv-localstack $(RESULTS)
