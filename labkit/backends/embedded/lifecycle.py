"""The embedded backend's lifecycle: MiniStack, moto (on 127.0.0.1) and labkit's fillers, shared by every kernel.

Lifecycle, all under one file lock in ``LABKIT_HOME``:

- ``ensure_running()`` reuses the servers named in the state file when both
  answer; otherwise it stops whatever is left of them (a stale or crashed run, and any process of this
  ``LABKIT_HOME`` no state file names), checks the ports, starts both servers in parallel, waits until
  they answer, then starts the fillers and writes the state file (atomically: a temporary file, synced,
  then renamed). If anything fails on the way (a server exits, a port, a full disk), everything it
  started is stopped before the one-line error says what to do.
- ``stop()`` stops all three (``labkit down``), and whatever else of this ``LABKIT_HOME`` still runs
  when the state file is gone; ``reset()`` wipes the servers' state.

A recorded process is ours only if its pid, start time and owner folder all still match
(``labkit.backends.processes``): a state file copied from, or left over by, another ``LABKIT_HOME``
never makes this one join or stop that home's servers.

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
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config
from labkit.backends import servers
from labkit.backends.base import DUMMY_CREDENTIALS
from labkit.backends.embedded import beanstalk, fillers_config, instances, rds_engine
from labkit.backends.servers import installed_versions, port_is_free, server_python
from labkit.backends.services import moto_endpoint_envs
from labkit.errors import BackendFailedToStart, BackendNotRunning, PortInUse

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
    "rds_dir",
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
    dns_port: int = 0  # Route 53's zones over DNS (UDP and TCP), served in MiniStack's process; 0: none

    @property
    def dns_resolver(self) -> str:
        """``127.0.0.1:<port>`` of the DNS server ("" when this state has none)."""
        return f"{servers.LOOPBACK}:{self.dns_port}" if self.dns_port else ""

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
        return State(
            Server(**raw["ministack"]), Server(**raw["moto"]), raw["started_at"], fillers, int(raw.get("dns_port", 0))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(state: State) -> None:
    """Write the state file whole or not at all: a temporary file in the same folder, synced, then renamed
    over the old one (a reader sees the old file or the new one, never half of one)."""
    path = _state_path()
    fd, tmp = tempfile.mkstemp(prefix=STATE_FILE + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(asdict(state), indent=2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """The lock every start and stop of labkit's servers in ``LABKIT_HOME`` holds (the classroom's too)."""
    with servers.locked(config.writable_home() / LOCK_FILE):
        yield


# --- processes and health -------------------------------------------------------------


def is_alive(server: Server) -> bool:
    """True if the recorded process still runs and is this home's: same pid, start time and owner folder."""
    return servers.is_running(server, config.home())


def answers(server: Server, timeout: float = 1.0) -> bool:
    return servers.answers(server.url + server.health_path, timeout)


HEALTHY_TIMEOUT = 5.0  # a busy server (two cores, a class's workload) may take a while; a dead one refuses at once


def healthy(state: State) -> bool:
    """Both servers are ours and answer. Generous with time: a server judged dead here would be replaced."""
    return all(is_alive(s) and answers(s, HEALTHY_TIMEOUT) for s in state.servers)


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


def _choose_dns_port(wanted: int) -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (the DNS server listens on both)."""
    for _attempt in range(20):
        port = wanted or servers.free_port()
        # TCP as the server binds it (SO_REUSEADDR: a TIME_WAIT left by the last run does not count)
        if servers.udp_port_is_free(port) and servers.bind_error(servers.LOOPBACK, port, reuse_address=True) is None:
            return port
        if wanted:
            raise PortInUse(
                f"port {wanted} (UDP or TCP) on 127.0.0.1 is taken by another program: stop it, or pick another "
                "port, e.g. `export LABKIT_DNS_PORT=0` (any free port)"
            )
    raise PortInUse("found no port free for both UDP and TCP on 127.0.0.1: set LABKIT_DNS_PORT to a free one")


INSTANCE_BIN = Path(__file__).with_name("instance_bin")  # `aws` for instances (instance_bin/aws says why)


def instance_settings(python: Path, ports: dict[str, int]) -> dict[str, object]:
    """What moto's instance runner needs (``instance_hooks.py``): where instances live, the SDK settings
    an instance's processes get (the kernel's endpoints and region; the AWS CLI, and ``python3`` with boto3,
    on PATH), and the credentials its metadata service hands out (the learner's dummy keys)."""
    urls = {name: f"http://{servers.LOOPBACK}:{port}" for name, port in ports.items()}
    env = {"AWS_ENDPOINT_URL": urls["ministack"], **{name: urls["moto"] for name in moto_endpoint_envs()}}
    env |= {"AWS_DEFAULT_REGION": config.region(), "AWS_REGION": config.region()}
    path = [str(INSTANCE_BIN), str(python.parent), os.environ.get("PATH", "/usr/bin:/bin")]
    env["PATH"] = os.pathsep.join(path)  # the AWS CLI (INSTANCE_BIN/aws), then python3 with boto3
    return {"home": str(config.home()), "env": env, "credentials": DUMMY_CREDENTIALS}


def _spawn(python: Path, name: str, ports: dict[str, int], log: Path, dns_port: int = 0) -> subprocess.Popen[bytes]:
    port = ports[name]
    if name == "ministack":
        rds = {rds_engine.DIR_ENV: str(rds_dir())}  # where its RDS instances' PostgreSQL engines live
        env = servers.ministack_env(servers.LOOPBACK, port, LABKIT_DNS_PORT=str(dns_port), **rds)
        cmd = [str(python), str(LAUNCHERS[name])]
    else:
        cmd = [str(python), str(LAUNCHERS[name]), "-H", servers.LOOPBACK, "-p", str(port)]
        env = {"LABKIT_INSTANCES": json.dumps(instance_settings(python, ports))}
    return servers.spawn(cmd, env, log, config.home())


def rds_dir() -> Path:
    """Where MiniStack's RDS instances keep their PostgreSQL engines (``rds_engine.py``)."""
    return config.home() / "rds"


def _terminate(recorded: Iterable[Server]) -> list[str]:
    """Stop the recorded processes that are still ours, then any other process of this ``LABKIT_HOME``,
    then any RDS engine or instance a killed server could not stop (their records say which: MiniStack
    and moto end them as they exit, a SIGKILLed one cannot)."""
    stopped = servers.terminate(recorded, is_alive, sweep=True)
    stopped += [name for name in servers.stop_owned(config.home()) if name not in stopped]
    rds_engine.stop_recorded(rds_dir())
    instances.sweep(config.home())
    beanstalk.sweep(config.home())
    return stopped


def _record(name: str, process: subprocess.Popen[bytes], port: int, version: str) -> Server:
    return Server(**asdict(servers.record(name, process, port, version, config.home())))


def _start() -> State:
    """Start both servers and the fillers, then write the state file; on any failure, stop what started."""
    started: list[Server] = []
    try:
        return _start_all(started)
    except BaseException as err:
        _terminate(started)
        _state_path().unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise BackendFailedToStart(
                f"could not start the embedded backend: {err.strerror or err} ({err.filename or config.home()}); "
                "nothing was left running: free some disk space or set LABKIT_HOME to a folder you can write, "
                "then run `labkit up`"
            ) from None
        raise


def _start_all(started: list[Server]) -> State:
    config.region()  # every setting is checked before anything starts (each raises InvalidSetting)
    fillers_config.check_settings(os.environ)
    python = server_python()
    versions = installed_versions(python)
    home = config.home()
    ports = {
        "ministack": _choose_port(config.ministack_port(), "LABKIT_PORT"),
        "moto": _choose_port(config.moto_port(), "LABKIT_MOTO_PORT"),
    }
    dns_port = _choose_dns_port(config.dns_port())
    logs = {name: home / f"{name}.log" for name in ports}
    procs, made = {}, {}
    for name, port in ports.items():
        procs[name] = _spawn(python, name, ports, logs[name], dns_port)
        made[name] = _record(name, procs[name], port, versions.get(name, "?"))
        started.append(made[name])

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
    state = State(made["ministack"], made["moto"], time.time(), dns_port=dns_port)
    state.fillers = _start_fillers(state)
    started.append(state.fillers)
    _write_state(state)
    return state


def _start_fillers(state: State) -> Server:
    """Start labkit's fillers (``labkit.backends.embedded.fillers``): labkit's Python, the servers' endpoints."""
    env = fillers_config.process_env(endpoints(state), DUMMY_CREDENTIALS, config.region(), config.home(), os.environ)
    return _record("fillers", fillers_config.start(env, config.home()), 0, "labkit")


# --- public lifecycle -------------------------------------------------------------


def ensure_running() -> tuple[State, bool]:
    """Start the embedded backend or join the running one. Returns (state, started_now)."""
    with locked():
        state = read_state()
        if state is not None and healthy(state):
            if state.fillers is None or not is_alive(state.fillers):  # the servers are fine: restart only it
                state.fillers = _start_fillers(state)
                try:
                    _write_state(state)
                except OSError as err:
                    _terminate(state.processes)
                    _state_path().unlink(missing_ok=True)
                    raise BackendFailedToStart(
                        f"could not write {_state_path()}: {err.strerror or err}; the backend was stopped: free some "
                        "disk space or set LABKIT_HOME to a folder you can write, then run `labkit up`"
                    ) from None
            return state, False
        _terminate(state.processes if state is not None else [])
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
        # The state goes first: a kernel whose call meets a closing server during the stop then reads
        # "stopped" (labkit.session), not the run it connected to. _terminate finds the servers without it.
        _state_path().unlink(missing_ok=True)
        return _terminate(state.processes if state is not None else [])


def reset() -> float:
    """Wipe every resource on both servers. Returns the seconds it took."""
    state = require_running()
    t0 = time.perf_counter()
    for server in state.servers:
        status, body = servers.request(server.url + server.reset_path, method="POST", timeout=30)
        if status != 200:
            raise BackendNotRunning(
                f"{server.name} refused the reset ({status}: {body[:120]!r}): run `labkit down` then `labkit up`"
            )
    instances.sweep(config.home())  # moto's reset ended them; this catches any it could not
    beanstalk.sweep(config.home())
    return time.perf_counter() - t0


def endpoints(state: State) -> dict[str, str]:
    """The SDK settings that route each service: moto's services to moto, the rest to MiniStack."""
    env = {"AWS_ENDPOINT_URL": state.ministack.url}
    env.update({name: state.moto.url for name in moto_endpoint_envs()})
    return env
