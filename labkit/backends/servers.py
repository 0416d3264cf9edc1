"""Every server process labkit runs is spawned, health-checked and stopped here.

Three callers, one implementation: the embedded backend (MiniStack + moto on 127.0.0.1,
``labkit.backends.embedded``), the classroom's room (``labkit.classroom.room``) and lesson 11's
IAM-enforcing MiniStack (``labkit.lessons.l11_iam_and_cloudwatch.enforcing``). What each keeps is only
what is specific to it: its command line, its state file, its messages.

The servers run from their own virtual environment (MiniStack pins botocore exactly; the
learner's kernel keeps a current boto3): ``LABKIT_SERVER_PYTHON``, else ``.venv-server`` at the
root of the labkit checkout, made by ``make setup``. Each runs in a session (process group) of its
own, without the learner's ``AWS_*``/``LABKIT_*`` settings, with ``NO_PROXY`` naming this machine
(``labkit.backends.proxies``), in its owner folder, and is stopped by its process group: SIGTERM, then
SIGKILL. Whether a recorded pid is still that server is decided by its start time and owner folder
(``labkit.backends.processes``), never by a word in its command line; ``stop_owned(folder)`` stops a
folder's processes when no state file names them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from labkit.backends import processes, proxies
from labkit.backends.ports import LOOPBACK as LOOPBACK  # the port helpers live in ports.py; callers use either
from labkit.backends.ports import bind_error as bind_error
from labkit.backends.ports import free_port as free_port
from labkit.backends.ports import port_is_free as port_is_free
from labkit.backends.ports import udp_port_is_free as udp_port_is_free
from labkit.errors import BackendFailedToStart, BackendNotInstalled

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a server must not inherit from the learner: endpoint settings and credentials.
SCRUBBED = ("AWS_", "LABKIT_")


@dataclass
class Server:
    """A server process as recorded in a state file."""

    name: str  # "ministack" or "moto"
    pid: int
    port: int
    version: str
    started: float = 0.0  # the process's start time (seconds since the epoch): a reused pid is never ours
    owner: str = ""  # the folder it runs in and belongs to (``labkit.backends.processes``)


def record(name: str, process: subprocess.Popen[bytes], port: int, version: str, owner: Path) -> Server:
    """The state-file record of a process ``spawn`` just started in ``owner``."""
    return Server(name, process.pid, port, version, processes.start_time(process.pid) or 0.0, processes.owner_of(owner))


def is_running(server: Server, folder: Path) -> bool:
    """True if the recorded process still runs and belongs to ``folder``: same pid, same start time, and
    both its record and the process itself name ``folder`` as their owner (a record copied from another
    folder's state file is not this folder's, even while its process runs)."""
    owner = processes.owner_of(folder)
    return server.owner == owner and processes.is_ours(server.pid, server.started, owner)


class Recorded(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def pid(self) -> int: ...


R = TypeVar("R", bound=Recorded)


# --- the servers' environment ---------------------------------------------------------


def server_python() -> Path:
    """The Python of the servers' own virtual environment."""
    explicit = os.environ.get("LABKIT_SERVER_PYTHON")
    python = Path(explicit) if explicit else REPO_ROOT / ".venv-server" / "bin" / "python"
    if not python.exists():
        raise BackendNotInstalled(
            f"the embedded backend is not installed ({python} is missing): run `make setup` in the labkit folder"
        )
    return python


def installed_versions(python: Path) -> dict[str, str]:
    """Versions of ministack and moto in the servers' environment, read from their dist-info."""
    versions = {}
    for lib in (python.parent.parent / "lib").glob("python3*/site-packages"):
        for name in ("ministack", "moto"):
            for info in lib.glob(f"{name}-*.dist-info"):
                versions[name] = info.name[len(name) + 1 : -len(".dist-info")]
    return versions


def ministack_env(host: str, port: int, **extra: str) -> dict[str, str]:
    """MiniStack's settings: its gateway on ``host:port`` only, none of its optional extra listeners."""
    return {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": host,
        "LOG_LEVEL": "WARNING",
        # MiniStack opens extra listeners on all interfaces for these; the course needs neither.
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        **extra,
    }


def scrubbed_environ(prefixes: Sequence[str] = SCRUBBED) -> dict[str, str]:
    """This process's environment without the variables that start with ``prefixes``."""
    return {k: v for k, v in os.environ.items() if not k.startswith(tuple(prefixes))}


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM the server when the process that started it dies.

    So a kernel that is killed (not just shut down) leaves no server behind. Elsewhere it does nothing.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    cmd: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    cwd: Path,
    *,
    scrub: Sequence[str] = SCRUBBED,
    with_parent: bool = False,
    secret: bytes | None = None,
) -> subprocess.Popen[bytes]:
    """Start one server in a session of its own, its output in ``log``, without the scrubbed variables,
    in ``cwd`` (its owner folder: its environment names it, so ``stop_owned(cwd)`` finds it; the process's
    name is the log's, e.g. ``ministack`` for ``ministack.log``).

    ``secret`` (one line) is written to the server's standard input and the pipe closed: a secret
    passed this way is in no environment variable (``/proc/<pid>/environ``) and no file.
    """
    base = scrubbed_environ(scrub)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(cmd),
            env={
                **base,
                **env,
                **proxies.no_proxy_env({**base, **env}),
                **processes.owner_env(cwd, log.stem),
                "PYTHONUNBUFFERED": "1",
            },
            stdin=subprocess.DEVNULL if secret is None else subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if with_parent else None,
            cwd=cwd,
        )
    if secret is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(secret.rstrip(b"\n") + b"\n")
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    return proc


# --- health -----------------------------------------------------------------------------


def request(
    url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, bytes]:
    """(status, body) of one HTTP call to this machine (never through a proxy); an HTTP error status is
    returned, not raised."""
    req = urllib.request.Request(
        url, method=method, data=b"" if method == "POST" else None, headers=dict(headers or {})
    )
    try:
        with proxies.OPENER.open(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def answers(url: str, timeout: float = 1.0, headers: Mapping[str, str] | None = None) -> bool:
    """True if ``url`` answers 200."""
    try:
        return request(url, headers=headers, timeout=timeout)[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def health_document(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """The JSON document a health page answers with, or None if it does not answer."""
    try:
        with proxies.OPENER.open(url, timeout=timeout) as response:
            doc: dict[str, Any] = json.loads(response.read() or b"{}")
            return doc
    except (urllib.error.URLError, OSError, ValueError):
        return None


def memory_mb(pid: int) -> float | None:
    """Resident memory of a server and its children (Lambda workers), in MB, where /proc has it."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(p) for p in children]
        for each in pids:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        return None
    return total / 1024


def last_line(log: Path) -> str:
    """The last non-blank line of a server's log ("" if there is none)."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


# --- starting ---------------------------------------------------------------------------


@dataclass
class Starting:
    """A server just spawned: how to tell it answers, and where it writes."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    answers: Callable[[float], bool]  # answers(timeout)


def wait_until_answering(
    starting: Sequence[Starting],
    timeout: float,
    *,
    exited: Callable[[Starting], str],
    late: Callable[[list[str]], str],
    stop: Callable[[], object],
    interval: float = 0.02,
) -> None:
    """Wait until every server answers. If one exits first, or ``timeout`` passes, ``stop()`` all of
    them and raise BackendFailedToStart with ``exited(server)`` or ``late(names still waited for)``.
    """
    deadline = time.monotonic() + timeout
    waiting = {s.name: s for s in starting}
    while waiting:
        for name in sorted(waiting):
            server = waiting[name]
            if server.process.poll() is not None:
                message = exited(server)  # before stop(): it may remove the log
                stop()
                raise BackendFailedToStart(message)
            if server.answers(0.5):
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            message = late(sorted(waiting))
            stop()
            raise BackendFailedToStart(message)
        if waiting:
            time.sleep(interval)


# --- stopping ---------------------------------------------------------------------------


def reap(pid: int) -> None:
    """Collect a server that this very process started, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal a process known to be ours (checked just before): its group if it leads one, else itself."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # not a group leader (e.g. a Lambda worker found by ``stop_owned``)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    except PermissionError:
        pass


def terminate(
    servers: Iterable[R],
    alive: Callable[[R], bool],
    timeout: float = 5.0,
    *,
    sweep: bool = False,
    sweep_exited: bool = False,
) -> list[str]:
    """Stop the servers' process groups: SIGTERM, then SIGKILL after ``timeout``; return the names of those
    that ran. ``alive(server)`` (asked once, before any signal) says if a record is still that server; each
    is then waited for until it has really exited (``processes.exited``). ``sweep`` SIGKILLs what is left in
    the group of each that ran (workers); ``sweep_exited`` also of those already gone, for a caller that
    holds their ``Popen`` (a record ``alive`` refused may name another home's server: never touched)."""
    servers = list(servers)
    stopped, signalled = [], []
    for server in servers:
        if alive(server):
            handle = processes.handle(server.pid)
            _signal(server.pid, signal.SIGTERM)
            stopped.append(server.name)
            signalled.append((server, handle))
    deadline = time.monotonic() + timeout
    for server, handle in signalled:
        while not processes.exited(handle) and time.monotonic() < deadline:
            reap(server.pid)
            time.sleep(0.02)
        if not processes.exited(handle):
            _signal(server.pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 2
            while not processes.exited(handle) and time.monotonic() < kill_deadline:
                reap(server.pid)
                time.sleep(0.02)
    ran = {id(server) for server, _ in signalled}
    for server in servers:
        reap(server.pid)
        if (sweep and id(server) in ran) or sweep_exited:
            _signal_group(server.pid, signal.SIGKILL)
    return stopped


def stop_owned(folder: Path, timeout: float = 5.0) -> list[str]:
    """Stop every process that belongs to ``folder`` (``labkit.backends.processes``), whether or not a state
    file names it: what a lost state file or a failed start left behind. Returns their names, once each."""
    found = processes.owned_by(folder)
    stopped = terminate(found, lambda p: processes.is_ours(p.pid, p.started, p.owner), timeout, sweep=True)
    return sorted(set(stopped))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing), so two processes never start servers at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
