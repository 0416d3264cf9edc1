"""Test-session setup that nbval needs (it lives here so it also covers notebooks/).

pytest fixtures do not run for nbval cells, so the backend is handled in hooks:

- at session start, exercise checks are told they must pass
  (LABKIT_CHECKS_MUST_PASS=1: the notebooks are the solved versions), and the
  embedded servers get a private LABKIT_HOME and free ports, so a test run
  never touches a learner's running backend; every notebook kernel inherits
  these settings and joins the same servers;
- before each notebook's first cell, the backend is started if needed and
  wiped, so each notebook runs on a fresh backend;
- at the end, the servers the run started are stopped.

With ``LABKIT_BACKEND=localstack`` the notebooks run against the LocalStack
that the caller started instead.
"""

from __future__ import annotations

import os
import tempfile

_home = None
_last_notebook = None


def pytest_sessionstart(session):
    global _home
    os.environ["LABKIT_CHECKS_MUST_PASS"] = "1"
    if os.environ.get("LABKIT_BACKEND", "embedded") in ("", "embedded"):
        _home = tempfile.mkdtemp(prefix="labkit-test-")
        os.environ.update({"LABKIT_HOME": _home, "LABKIT_PORT": "0", "LABKIT_MOTO_PORT": "0"})


def pytest_runtest_setup(item):
    global _last_notebook
    if _home is None or not str(item.fspath).endswith(".ipynb") or item.fspath == _last_notebook:
        return
    from labkit.backends import embedded

    _last_notebook = item.fspath
    _, started = embedded.ensure_running()
    if not started:
        embedded.reset()


def pytest_sessionfinish(session, exitstatus):
    if _home is not None:
        from labkit.backends import embedded

        embedded.stop()
