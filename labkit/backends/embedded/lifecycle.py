"""The embedded backend's lifecycle: MiniStack, moto (on 127.0.0.1) and labkit's fillers, shared by every kernel.

Lifecycle, all under one file lock in ``LABKIT_HOME``:

- ``ensure_running()`` reuses the servers named in the state file when both
  answer; otherwise it stops whatever is left of them (a stale or crashed run),
  checks the ports, starts both servers in parallel, waits until they answer, then starts the fillers.
- ``stop()`` stops all three (``labkit down``); ``reset()`` wipes the servers' state.

Spawning, health checks and stopping are ``labkit.backends.servers``'s (shared with the
classroom and lesson 11's enforcing server); this module keeps the embedded backend's own part:
its command lines (labkit's launchers, ``*_fixes.py``), its state file and its messages. The servers
are started in their own session, so they outlive the kernel that started them and are stopped
only by ``labkit down``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config
from labkit.backends import servers
from labkit.backends.base import DUMMY_CREDENTIALS
from labkit.backends.embedded import fillers_config, instances
from labkit.backends.servers import installed_versions, port_is_free, server_python
from labkit.backends.services import moto_endpoint_envs
from labkit.errors import BackendNotRunning, PortInUse

__all__ = [
    "Server",
    "State",
    "answers",
    "endpoints",
    "ensure_running",
    "healthy",
    "installed_versions",
    "is_alive",
    "locked",
    "memory_mb",
    "port_is_free",
    "read_state",
    "require_running",
    "reset",
    "server_python",
    "stop",
]

HERE = Path(__file__).resolve().parent
# Each server runs through a launcher of labkit's that fixes what the course relies on (see each file).
LAUNCHERS = {"ministack": HERE / "ministack_fixes.py", "moto": HERE / "moto_fixes.py"}
STATE_FILE = "embedded.json"
LOCK_FILE = "embedded.lock"
START_TIMEOUT = 20.0


@dataclass
class Server(servers.Server):
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
    fillers: Server | None = None  # labkit's fillers process (no port): AWS/SQS metrics, alarm → Auto Scaling

    @property
    def servers(self) -> tuple[Server, Server]:
        return (self.ministack, self.moto)

    @property
    def processes(self) -> list[Server]:
        """Every process of this backend: the two servers and the fillers."""
        return [*self.servers, *([self.fillers] if self.fillers else [])]


# --- state file -------------------------------------------------------------------


def _state_path() -> Path:
    return config.home() / STATE_FILE


def read_state() -> State | None:
    try:
        raw = json.loads(_state_path().read_text())
        fillers = Server(**raw["fillers"]) if raw.get("fillers") else None
        return State(Server(**raw["ministack"]), Server(**raw["moto"]), raw["started_at"], fillers)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(state: State) -> None:
    path = _state_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """The lock every start and stop of labkit's servers in ``LABKIT_HOME`` holds (the classroom's too)."""
    with servers.locked(config.home() / LOCK_FILE):
        yield


# --- processes and health -------------------------------------------------------------


def _marker(server: Server) -> str:
    return LAUNCHERS[server.name].name if server.name in LAUNCHERS else fillers_config.MODULE


def is_alive(server: Server) -> bool:
    """True if the recorded pid is still one of our server processes (not a reused pid)."""
    return servers.is_alive(server.pid, _marker(server))


def answers(server: Server, timeout: float = 1.0) -> bool:
    return servers.answers(server.url + server.health_path, timeout)


def healthy(state: State) -> bool:
    return all(is_alive(s) and answers(s) for s in state.servers)


def memory_mb(server: Server) -> float | None:
    """Resident memory of a server and its children (Lambda workers), in MB, where /proc has it."""
    return servers.memory_mb(server.pid)


def _choose_port(wanted: int, variable: str) -> int:
    if wanted == 0:
        return servers.free_port()
    if not port_is_free(wanted):
        raise PortInUse(
            f"port {wanted} on 127.0.0.1 is taken by another program: stop it, or pick another port, "
            f"e.g. `export {variable}=0` (any free port)"
        )
    return wanted


def instance_settings(python: Path, ports: dict[str, int]) -> dict[str, object]:
    """What moto's instance runner needs (``instance_hooks.py``): where instances live, the SDK settings
    an instance's processes get (the kernel's endpoints and region; ``python3`` with boto3 on PATH), and
    the credentials its metadata service hands out (the learner's dummy keys)."""
    urls = {name: f"http://{servers.LOOPBACK}:{port}" for name, port in ports.items()}
    env = {"AWS_ENDPOINT_URL": urls["ministack"], **{name: urls["moto"] for name in moto_endpoint_envs()}}
    env |= {"AWS_DEFAULT_REGION": config.region(), "AWS_REGION": config.region()}
    env["PATH"] = os.pathsep.join([str(python.parent), os.environ.get("PATH", "/usr/bin:/bin")])
    return {"home": str(config.home()), "env": env, "credentials": DUMMY_CREDENTIALS}


def _spawn(python: Path, name: str, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    port = ports[name]
    if name == "ministack":
        cmd, env = [str(python), str(LAUNCHERS[name])], servers.ministack_env(servers.LOOPBACK, port)
    else:
        cmd = [str(python), str(LAUNCHERS[name]), "-H", servers.LOOPBACK, "-p", str(port)]
        env = {"LABKIT_INSTANCES": json.dumps(instance_settings(python, ports))}
    return servers.spawn(cmd, env, log, config.home())


def _terminate(recorded: Iterable[Server]) -> list[str]:
    return servers.terminate(recorded, is_alive)


def _start() -> State:
    python = server_python()
    versions = installed_versions(python)
    home = config.home()
    ports = {
        "ministack": _choose_port(config.ministack_port(), "LABKIT_PORT"),
        "moto": _choose_port(config.moto_port(), "LABKIT_MOTO_PORT"),
    }
    logs = {name: home / f"{name}.log" for name in ports}
    procs = {name: _spawn(python, name, ports, logs[name]) for name in ports}
    made = {name: Server(name, proc.pid, ports[name], versions.get(name, "?")) for name, proc in procs.items()}

    def exited(s: servers.Starting) -> str:
        return (
            f"{s.name} exited while starting (code {s.process.returncode}): {servers.last_line(s.log) or 'no output'}; "
            f"see {s.log}, then run `labkit doctor`"
        )

    servers.wait_until_answering(
        [servers.Starting(n, procs[n], logs[n], functools.partial(answers, made[n])) for n in made],
        START_TIMEOUT,
        exited=exited,
        late=lambda names: f"{', '.join(names)} did not answer within {START_TIMEOUT:.0f} s: run `labkit doctor`",
        stop=lambda: _terminate(made.values()),
    )
    state = State(made["ministack"], made["moto"], time.time())
    state.fillers = _start_fillers(state)
    _write_state(state)
    return state


def _start_fillers(state: State) -> Server:
    """Start labkit's fillers (``labkit.backends.embedded.fillers``): labkit's Python, the servers' endpoints."""
    env = fillers_config.process_env(endpoints(state), DUMMY_CREDENTIALS, config.region(), config.home(), os.environ)
    return Server("fillers", fillers_config.start(env, config.home()), 0, "labkit")


# --- public lifecycle -------------------------------------------------------------


def ensure_running() -> tuple[State, bool]:
    """Start the embedded backend or join the running one. Returns (state, started_now)."""
    with locked():
        state = read_state()
        if state is not None and healthy(state):
            if state.fillers is None or not is_alive(state.fillers):  # the servers are fine: restart only it
                state.fillers = _start_fillers(state)
                _write_state(state)
            return state, False
        if state is not None:
            _terminate(state.processes)
            instances.sweep(config.home())
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
    with locked():
        state = read_state()
        if state is None:
            return []
        stopped = _terminate(state.processes)
        # moto ends its instances as it exits; a SIGKILLed moto cannot, so end what its records name.
        instances.sweep(config.home())
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
    instances.sweep(config.home())  # moto's reset ended them; this catches any it could not
    return time.perf_counter() - t0


def endpoints(state: State) -> dict[str, str]:
    """The SDK settings that route each service: moto's services to moto, the rest to MiniStack."""
    env = {"AWS_ENDPOINT_URL": state.ministack.url}
    env.update({name: state.moto.url for name in moto_endpoint_envs()})
    return env
