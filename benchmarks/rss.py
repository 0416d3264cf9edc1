"""Resident memory of a server's whole process tree, and a pytest plugin that reads the embedded servers'.

The plugin is for ``benchmarks/compare.py``: under pytest the root conftest starts the embedded servers
for the run and stops them when the session ends, so their memory after the course can only be read
inside that session. Loaded with ``-p benchmarks.rss`` (from the checkout), it writes
``{"ministack": MB, "moto": MB}`` to ``LABKIT_BENCH_MEMORY_OUT`` just before the conftest stops them,
and the run's LABKIT_HOME to ``home`` beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import psutil
import pytest


def tree_rss_mb(pid: int) -> float | None:
    """RSS of ``pid`` and all its descendants, in MB (None if the process is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker that exited while we looked
            total += proc.memory_info().rss
    return total / 2**20


def _out() -> Path | None:
    out = os.environ.get("LABKIT_BENCH_MEMORY_OUT")
    return Path(out) if out else None


@pytest.hookimpl(trylast=True)  # after the root conftest chose the run's LABKIT_HOME
def pytest_sessionstart(session):
    if out := _out():  # so compare.py can stop the run's servers if pytest itself is killed
        out.with_name("home").write_text(os.environ["LABKIT_HOME"])


@pytest.hookimpl(tryfirst=True)  # before the root conftest's sessionfinish stops the servers
def pytest_sessionfinish(session, exitstatus):
    if (out := _out()) is None:
        return
    from labkit.backends import embedded

    state = embedded.read_state()
    memory = {server.name: tree_rss_mb(server.pid) for server in state.servers} if state else {}
    out.write_text(json.dumps(memory))
