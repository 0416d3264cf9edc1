"""Test-session setup that nbval needs (it lives here so it also covers notebooks/).

pytest fixtures do not run for nbval cells, so the backend is handled in hooks:

- at session start, exercise checks are told they must pass
  (LABKIT_CHECKS_MUST_PASS=1: the notebooks are the solved versions), and the
  embedded servers get a private LABKIT_HOME and free ports, so a test run
  never touches a learner's running backend; every notebook kernel inherits
  these settings and joins the same servers;
- before each notebook's first cell, the backend is started if needed and
  wiped, so each notebook runs on a fresh backend;
- at the end, the servers the run started are stopped, and the run fails if a process of an EC2
  instance it ran (``labkit/backends/embedded/instances.py``) is still alive.

`make test` runs this in parallel (pytest-xdist, ``-n 4 --dist loadfile``): each worker is a test
session of its own, so each has its own private servers, and a file's tests (a notebook's cells) stay
together on one worker, in order.

With ``LABKIT_BACKEND=localstack`` the notebooks run against the LocalStack
that the caller started instead (``tests/localstack.py`` does both).

A notebook can declare what it cannot run without (metadata
``"labkit": {"requires": ["lambda"]}``); each requirement is probed once on the
backend (``labkit.backends.probes``), and a notebook whose requirement is missing is
skipped with the probe's reason.

With ``LABKIT_MATRIX_OUT=<file>``, the run also writes what each notebook did on
this backend: passed or not, and every "– not on this backend: ..." line its
cells printed. ``tests/backend_matrix.py`` turns those files into the README's
lesson × backend table.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from pathlib import Path

import pytest

from labkit.backends.probes import lesson_requirements
from labkit.course.checks import UNAVAILABLE_PREFIX

_home = None
_last_notebook = None
_matrix: dict[str, dict] = {}


def pytest_sessionstart(session):
    global _home
    out = os.environ.get("LABKIT_MATRIX_OUT")
    if out and not os.environ.get("PYTEST_XDIST_WORKER"):  # parts an interrupted parallel run left behind
        for part in Path(out).parent.glob(f"{Path(out).name}.gw*"):
            part.unlink()
    os.environ["LABKIT_CHECKS_MUST_PASS"] = "1"
    if os.environ.get("LABKIT_BACKEND", "embedded") in ("", "embedded"):
        _home = tempfile.mkdtemp(prefix="labkit-test-")
        os.environ.update({"LABKIT_HOME": _home, "LABKIT_PORT": "0", "LABKIT_MOTO_PORT": "0", "LABKIT_DNS_PORT": "0"})


def pytest_runtest_setup(item):
    global _last_notebook
    if _home is None or not str(item.fspath).endswith(".ipynb") or item.fspath == _last_notebook:
        return
    from labkit.backends import embedded

    _last_notebook = item.fspath
    _, started = embedded.ensure_running()
    if not started:
        embedded.reset()


@pytest.fixture(autouse=True, scope="module")
def _environment_per_file():
    """Each test file starts from the environment the session started with, whatever the files before it
    set (under pytest-xdist a worker runs files in any order): a file that connects does so itself."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    import boto3

    boto3.DEFAULT_SESSION = None  # it caches the credentials and region it first read


@functools.cache
def _missing(requirement: str) -> str | None:
    """Why this backend lacks ``requirement`` (probed once per run), or None if it has it."""
    import labkit
    from labkit.backends import probes

    labkit.connect(show=False)
    return probes.missing(requirement)


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        path = str(item.fspath)
        if not path.endswith(".ipynb"):
            continue
        for requirement in lesson_requirements(path):
            reason = _missing(requirement)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
                entry = _matrix.setdefault(Path(path).stem, {"passed": True, "unavailable": []})
                entry["skipped"] = reason


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    path = str(item.fspath)
    if path.endswith(".ipynb") and report.when in ("setup", "call"):
        entry = _matrix.setdefault(Path(path).stem, {"passed": True, "unavailable": []})
        entry["passed"] &= not report.failed
        for output in getattr(item, "test_outputs", None) or []:
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            for line in text.splitlines():
                if line.startswith(UNAVAILABLE_PREFIX):
                    what = line.removeprefix(UNAVAILABLE_PREFIX).strip()
                    if what not in entry["unavailable"]:
                        entry["unavailable"].append(what)
    return report


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("LABKIT_MATRIX_OUT")
    if out:
        _write_matrix(Path(out), os.environ.get("PYTEST_XDIST_WORKER"))
    if _home is not None:
        from labkit.backends import embedded

        embedded.stop()
    _no_instance_outlives_the_session(session)


def _no_instance_outlives_the_session(session):
    """Fail the run if a process of an instance this session started still runs (in its backend's home, or
    in a test's temporary home); end them, so a failure leaves nothing behind either. Under pytest-xdist
    each worker sends what it found to the controller (``workeroutput``), which fails the run."""
    import signal

    from labkit.backends.embedded import instances

    roots = [Path(_home)] if _home else []
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        roots.append(factory.getbasetemp())
    left = instances.leftovers(*roots)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides
        workeroutput["labkit_orphans"] = left
        return
    left += _orphans_from_workers
    if left:
        raise pytest.UsageError(f"instance processes outlived the test session (now killed): pids {left}")


_orphans_from_workers: list[int] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """(pytest-xdist, on the controller) a worker ended: collect the instance processes it found left over."""
    _orphans_from_workers.extend(getattr(node, "workeroutput", {}).get("labkit_orphans", []))


def _write_matrix(out: Path, worker: str | None) -> None:
    """Each run writes what its notebooks did; with pytest-xdist each worker writes its own part
    (``<out>.<worker>``) and the controller, which ends last, merges the parts into ``out``."""
    backend = os.environ.get("LABKIT_BACKEND") or "embedded"
    if worker:
        if _matrix:
            out.with_name(f"{out.name}.{worker}").write_text(json.dumps(_matrix))
        return
    merged = dict(_matrix)
    for part in sorted(out.parent.glob(f"{out.name}.gw*")):
        merged.update(json.loads(part.read_text()))
        part.unlink()
    if merged:
        out.write_text(json.dumps({"backend": backend, "notebooks": dict(sorted(merged.items()))}, indent=2))
