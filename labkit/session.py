"""What this kernel connected to: so a restarted backend is named as such, and ``labkit down`` knows who is connected.

``connect()`` records two things:

- the run of the backend it joined (``Backend.run()``: for the embedded backend its servers' pids and
  start time, and how many ``labkit reset`` wipes there were). :func:`backend_changed` compares it with
  the run that answers now and says, in one line, that the backend was stopped, restarted or wiped
  since this notebook connected. :func:`explain` turns the errors such a change causes
  (``QueueDoesNotExist``, ``EndpointConnectionError``, ...) into a :class:`~labkit.errors.BackendRestarted`
  with that line, and connect() installs it in IPython, so a cell's boto3 call that meets a wiped
  backend shows the one line instead of a 60-line traceback;
- this kernel's pid, in ``LABKIT_HOME/kernels/<pid>.json`` (removed when the kernel exits), so
  ``labkit down`` can list the notebooks still connected and say what they lose (:func:`connected_kernels`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import botocore.exceptions
import psutil

from labkit import backends, config
from labkit.aws.errors import error_code
from labkit.backends.base import Run
from labkit.errors import BackendRestarted

__all__ = [
    "GONE_CODES",
    "Kernel",
    "backend_changed",
    "connected_kernels",
    "describe",
    "explain",
    "forget",
    "install_ipython_hook",
    "is_backend_gone",
    "record",
]

# Error codes a wiped backend answers for what a lesson made before (a queue, a bucket, a function, ...).
GONE_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchBucket",
        "NoSuchKey",
        "ResourceNotFoundException",
        "NotFound",
        "NoSuchEntity",
        "NotFoundException",
        "InvalidInstanceID.NotFound",
        "InvalidVolume.NotFound",
    }
)
# What botocore raises when nothing answers at the endpoint any more (the servers were stopped).
UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)
KERNELS = "kernels"
FROM_THE_TOP = "run the lesson from the top"


@dataclass
class _Connected:
    backend: str
    run: Run | None
    earlier: Run | None = None  # a different run this kernel had connected to before (connect() run again)
    account: str = ""  # masked (last four digits), real AWS only: which account a recorded pass was made in


_connected: _Connected | None = None


# --- the backend's run ------------------------------------------------------------------


def record(backend: str, lesson: str | None = None, account: str = "") -> str | None:
    """Remember the run of ``backend`` this kernel connected to now, and register this kernel (connect() calls it).

    Returns a note for the banner when this kernel had connected to another run of it before: what the
    cells before made is gone.
    """
    global _connected
    run = backends.get(backend).run()
    earlier = None
    if _connected is not None and _connected.backend == backend:
        earlier = _connected.earlier or (_connected.run if _connected.run != run else None)
    _connected = _Connected(backend, run, earlier, account)
    _register_kernel(backend, lesson)
    if earlier is not None and run is not None:
        return (
            "the backend was restarted since this kernel first connected: what earlier cells made is gone; "
            + FROM_THE_TOP
        )
    return None


def account() -> str:
    """The masked account this kernel connected to (real AWS), else ""."""
    return _connected.account if _connected is not None else ""


def forget() -> None:
    """Forget the runs this kernel connected to (a test that starts a backend of its own)."""
    global _connected
    _connected = None


def backend_changed(*, since_first: bool = False) -> str | None:
    """One line when the backend is not the run this notebook connected to (stopped, restarted, wiped), else None.

    ``since_first``: also when connect() was run again after a restart (what the cells before made is gone).
    """
    if _connected is None or _connected.run is None:
        return None
    now = backends.get(_connected.backend).run()
    if now is None:
        return None
    if now == _connected.run:
        if since_first and _connected.earlier is not None:
            return (
                "the backend was restarted after this notebook first connected, so what the cells before the "
                f"last connect() made is gone: {FROM_THE_TOP}"
            )
        return None
    if not now.servers:
        return (
            "the backend was stopped since this notebook connected (`labkit down`): start it again with "
            f"`labkit up` or `labkit.connect()`, then {FROM_THE_TOP}"
        )
    if now.servers == _connected.run.servers:
        return f"the backend was wiped (`labkit reset`) since this notebook connected: {FROM_THE_TOP}"
    return f"the backend was restarted since this notebook connected: {FROM_THE_TOP}"


def is_backend_gone(err: BaseException) -> bool:
    """True for the errors a stopped, restarted or wiped backend causes, when it was one (:func:`backend_changed`)."""
    return isinstance(explain(err), BackendRestarted)


def explain(err: BaseException) -> BaseException:
    """A :class:`BackendRestarted` with the one line, in place of an error a backend change explains; else ``err``."""
    if isinstance(err, BackendRestarted):
        return err
    unreachable = isinstance(err, UNREACHABLE)
    if unreachable or error_code(err, "") in GONE_CODES:
        why = backend_changed(since_first=not unreachable)
        if why:
            explained = BackendRestarted(why)
            explained.__cause__ = err
            return explained
    return err


def describe(err: BaseException) -> str:
    """``Type: message`` of an error, or the one line of what explains it (for a worker's record of failures)."""
    err = explain(err)
    return f"{type(err).__name__}: {err}"


def install_ipython_hook() -> bool:
    """In IPython, show a backend change as its one line when a cell's boto3 call fails because of it."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    if shell is None:
        return False

    def handler(shell, etype, value, tb, tb_offset=None):  # IPython's custom exception handler signature
        explained = explain(value)
        if explained is value:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        else:
            shell.showtraceback((type(explained), explained, None))
        return None

    shell.set_custom_exc((botocore.exceptions.ClientError, *UNREACHABLE), handler)
    return True


# --- connected kernels ------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """A process that connected to a backend and has not exited."""

    pid: int
    created: float  # the process's start time: a pid reused by another process does not match it
    backend: str
    lesson: str | None
    connected_at: float

    def __str__(self) -> str:
        return f"pid {self.pid}" + (f" (lesson {self.lesson})" if self.lesson else "")


def _kernels_dir() -> Path:
    return config.home() / KERNELS


def _register_kernel(backend: str, lesson: str | None) -> None:
    pid = os.getpid()
    kernel = Kernel(pid, psutil.Process(pid).create_time(), backend, lesson, time.time())
    path = _kernels_dir() / f"{pid}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(kernel)))
        tmp.replace(path)
    except OSError:  # only `labkit down`'s warning needs it: never stop a lesson for it
        return
    atexit.register(_unregister, path, pid)


def _unregister(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(kernel: Kernel) -> bool:
    try:
        return abs(psutil.Process(kernel.pid).create_time() - kernel.created) < 1.0
    except (psutil.Error, OSError):
        return False


def connected_kernels(backend: str | None = None) -> list[Kernel]:
    """Live processes (other than this one) that connected to ``backend`` (or any); stale records are removed."""
    live: list[Kernel] = []
    for path in sorted(_kernels_dir().glob("*.json")):
        try:
            kernel = Kernel(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if not _alive(kernel):
            with contextlib.suppress(OSError):
                path.unlink()
        elif kernel.pid != os.getpid() and (backend is None or kernel.backend == backend):
            live.append(kernel)
    return live
