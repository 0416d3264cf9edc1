"""Which running processes are labkit's: identity by pid, start time and owner folder, never by a word.

A pid alone is not an identity (pids are reused) and neither is a word in a command line (two
``LABKIT_HOME`` folders run the same launchers). A process labkit starts (``servers.spawn``) runs in
its owner folder (the ``LABKIT_HOME``, or the classroom's folder) and carries that folder in its
environment as ``LABKIT_OWNER`` (and its name as ``LABKIT_PROCESS``); the state file records its pid
and its start time. A recorded process is ours only if all three still match, so a stale state file
of one home can never make labkit stop (or join) a server of another. ``owned_by(folder)`` finds
a folder's processes with no state file at all (it was lost, or never written): ``labkit down``
uses it, and so does every start that replaces a stopped backend.

psutil reads what the OS knows of a process (start time, working directory, environment) the same
way on Linux and macOS; the standard library has no portable way to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

OWNER_ENV = "LABKIT_OWNER"
NAME_ENV = "LABKIT_PROCESS"
# Start times are read from the OS in clock ticks (1/100 s on Linux): equal within this, the same process.
SAME_START_S = 0.05


@dataclass(frozen=True)
class Found:
    """A running process of an owner folder, found without a state file."""

    name: str
    pid: int
    started: float
    owner: str


def owner_of(folder: Path) -> str:
    """The owner string for ``folder``: its resolved path, so two spellings of one folder agree."""
    return str(Path(folder).expanduser().resolve())


def owner_env(folder: Path, name: str) -> dict[str, str]:
    """What ``servers.spawn`` puts in a process's environment, so it can be found again."""
    return {OWNER_ENV: owner_of(folder), NAME_ENV: name}


def start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), or None if it is not running (a zombie is not)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        started: float = process.create_time()
        return started
    except (psutil.Error, OSError):
        return None


def handle(pid: int) -> psutil.Process | None:
    """A handle on the running ``pid`` (it remembers the start time, so a reused pid is not it), or None."""
    try:
        return psutil.Process(pid)
    except (psutil.Error, OSError):
        return None


def exited(process: psutil.Process | None) -> bool:
    """True once ``process`` has really exited: gone (or its pid reused), or a zombie another process
    will collect. A child of this process counts only once it is collected (``servers.reap``): its main
    thread can be a zombie while its other threads still run, and it still holds its ports then."""
    if process is None:
        return True
    try:
        if not process.is_running():
            return True
        return process.status() == psutil.STATUS_ZOMBIE and process.ppid() != os.getpid()
    except (psutil.Error, OSError):
        return True


def _owner(process: psutil.Process) -> str | None:
    try:
        environ = process.environ()
    except (psutil.Error, OSError):
        return None
    owner: str | None = environ.get(OWNER_ENV)
    return owner


def is_ours(pid: int, started: float, owner: str) -> bool:
    """True if ``pid`` is still the process that started at ``started`` and belongs to ``owner``."""
    if pid <= 0 or not started or not owner:
        return False
    now = start_time(pid)
    if now is None or abs(now - started) > SAME_START_S:
        return False
    return _owner(psutil.Process(pid)) == owner


def owned_by(folder: Path) -> list[Found]:
    """Every running process (and its descendants that kept the environment) that belongs to ``folder``."""
    owner = owner_of(folder)
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            environ = process.environ()
            if environ.get(OWNER_ENV) != owner:
                continue
            found.append(Found(environ.get(NAME_ENV, "process"), process.pid, process.create_time(), owner))
        except (psutil.Error, OSError):
            continue
    return found
