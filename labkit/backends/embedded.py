"""The embedded backend: MiniStack and a moto server on 127.0.0.1, shared by every kernel.

Lifecycle, all under one file lock in ``LABKIT_HOME``:

- ``ensure_running()`` reuses the servers named in the state file when both
  answer; otherwise it stops whatever is left of them (a stale or crashed run),
  checks the ports, starts both servers in parallel and waits until they answer.
- ``stop()`` stops both (``labkit down``); ``reset()`` wipes their state.

The servers run from their own virtual environment (MiniStack pins botocore
exactly; the learner's kernel keeps a current boto3): ``LABKIT_SERVER_PYTHON``,
else ``.venv-server`` at the root of the labkit checkout, made by ``make setup``.
They are started in their own session, so they outlive the kernel that started
them and are stopped only by ``labkit down``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config
from labkit.errors import BackendFailedToStart, BackendNotInstalled, BackendNotRunning, PortInUse

STATE_FILE = "embedded.json"
LOCK_FILE = "embedded.lock"
START_TIMEOUT = 20.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    name: str  # "ministack" or "moto"
    pid: int
    port: int
    version: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_path(self) -> str:
        return "/_ministack/health" if self.name == "ministack" else "/moto-api/"

    @property
    def reset_path(self) -> str:
        return "/_ministack/reset" if self.name == "ministack" else "/moto-api/reset"


@dataclass
class State:
    ministack: Server
    moto: Server
    started_at: float

    @property
    def servers(self) -> tuple[Server, Server]:
        return (self.ministack, self.moto)


# --- locating the servers' environment -------------------------------------------------


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


# --- state file -------------------------------------------------------------------


def _state_path() -> Path:
    return config.home() / STATE_FILE


def read_state() -> State | None:
    try:
        raw = json.loads(_state_path().read_text())
        return State(Server(**raw["ministack"]), Server(**raw["moto"]), raw["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(state: State) -> None:
    path = _state_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


@contextlib.contextmanager
def _locked():
    home = config.home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- processes and health -------------------------------------------------------------


def is_alive(server: Server) -> bool:
    """True if the recorded pid is still one of our server processes (not a reused pid)."""
    try:
        os.kill(server.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{server.pid}/cmdline")
    if cmdline.exists():
        marker = "ministack" if server.name == "ministack" else "moto_server"
        return marker in cmdline.read_bytes().decode(errors="replace")
    return True


def answers(server: Server, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(server.url + server.health_path, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def healthy(state: State) -> bool:
    return all(is_alive(s) and answers(s) for s in state.servers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _choose_port(wanted: int, variable: str) -> int:
    if wanted == 0:
        return _free_port()
    if not port_is_free(wanted):
        raise PortInUse(
            f"port {wanted} on 127.0.0.1 is taken by another program: stop it, or pick another port, "
            f"e.g. `export {variable}=0` (any free port)"
        )
    return wanted


def _spawn(python: Path, name: str, port: int, log: Path) -> subprocess.Popen:
    bindir = python.parent
    if name == "ministack":
        cmd = [str(bindir / "ministack")]
        env = {
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # MiniStack opens extra listeners on all interfaces for these; the course needs neither.
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
        }
    else:
        cmd = [str(bindir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
        env = {}
    # The servers must not inherit the learner's endpoint settings or credentials.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_"))}
    return subprocess.Popen(
        cmd,
        env={**base, **env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=config.home(),
    )


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _start() -> State:
    python = server_python()
    versions = installed_versions(python)
    home = config.home()
    ports = {
        "ministack": _choose_port(config.ministack_port(), "LABKIT_PORT"),
        "moto": _choose_port(config.moto_port(), "LABKIT_MOTO_PORT"),
    }
    procs = {name: _spawn(python, name, port, home / f"{name}.log") for name, port in ports.items()}
    servers = {name: Server(name, proc.pid, ports[name], versions.get(name, "?")) for name, proc in procs.items()}
    deadline = time.monotonic() + START_TIMEOUT
    waiting = set(servers)
    while waiting:
        for name in sorted(waiting):
            if procs[name].poll() is not None:
                _terminate(servers.values())
                detail = _last_line(home / f"{name}.log")
                raise BackendFailedToStart(
                    f"{name} exited while starting (code {procs[name].returncode}): {detail or 'no output'}; "
                    f"see {home / (name + '.log')}, then run `labkit doctor`"
                )
            if answers(servers[name], timeout=0.5):
                waiting.discard(name)
        if waiting and time.monotonic() > deadline:
            _terminate(servers.values())
            raise BackendFailedToStart(
                f"{', '.join(sorted(waiting))} did not answer within {START_TIMEOUT:.0f} s: run `labkit doctor`"
            )
        if waiting:
            time.sleep(0.02)
    state = State(servers["ministack"], servers["moto"], time.time())
    _write_state(state)
    return state


def _terminate(servers, timeout: float = 5.0, alive=None) -> list[str]:
    """Stop the given servers' process groups: SIGTERM, then SIGKILL after ``timeout``.

    ``alive(server)`` tells whether a recorded pid is still that server (default: :func:`is_alive`).
    """
    is_alive_ = alive or is_alive
    stopped = []
    for server in servers:
        if is_alive_(server):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server.pid, signal.SIGTERM)
            stopped.append(server.name)
    deadline = time.monotonic() + timeout
    for server in servers:
        while is_alive_(server) and time.monotonic() < deadline:
            _reap(server.pid)
            time.sleep(0.02)
        if is_alive_(server):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server.pid, signal.SIGKILL)
        _reap(server.pid)
    return stopped


def _reap(pid: int) -> None:
    """Collect a server that this very process started, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# --- public lifecycle -------------------------------------------------------------


def ensure_running() -> tuple[State, bool]:
    """Start the embedded backend or join the running one. Returns (state, started_now)."""
    with _locked():
        state = read_state()
        if state is not None and healthy(state):
            return state, False
        if state is not None:
            _terminate(state.servers)
            _state_path().unlink(missing_ok=True)
        return _start(), True


def require_running() -> State:
    """The running backend's state, or a BackendNotRunning error saying how to start it."""
    state = read_state()
    if state is None:
        raise BackendNotRunning("the embedded backend is not running: start it with `labkit up`")
    if not healthy(state):
        dead = [s.name for s in state.servers if not is_alive(s)]
        what = f"{' and '.join(dead)} stopped" if dead else "it does not answer"
        raise BackendNotRunning(f"the embedded backend is down ({what}): restart it with `labkit up`")
    return state


def stop() -> list[str]:
    """Stop both servers (``labkit down``). Returns the names of those that were running."""
    with _locked():
        state = read_state()
        if state is None:
            return []
        stopped = _terminate(state.servers)
        _state_path().unlink(missing_ok=True)
        return stopped


def reset() -> float:
    """Wipe every resource on both servers. Returns the seconds it took."""
    state = require_running()
    t0 = time.perf_counter()
    for server in state.servers:
        request = urllib.request.Request(server.url + server.reset_path, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    return time.perf_counter() - t0


def endpoints(state: State) -> dict[str, str]:
    """The SDK settings that route each service: moto's services to moto, the rest to MiniStack."""
    from labkit.backends.services import moto_endpoint_envs

    env = {"AWS_ENDPOINT_URL": state.ministack.url}
    env.update({name: state.moto.url for name in moto_endpoint_envs()})
    return env


def memory_mb(server: Server) -> float | None:
    """Resident memory of a server and its children (Lambda workers), in MB, where /proc has it."""
    total = 0
    pids = [server.pid]
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        pids += [int(p) for p in children]
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        return None
    return total / 1024
