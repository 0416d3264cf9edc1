"""The room: the classroom's MiniStack and moto on an address the instructor chose.

``up`` starts both (through ``server.py``, run by path with the servers' own Python) and records
them with the instructor's admin token in ``state.json`` (0600); ``down`` stops them;
``reset_learner`` drops one learner's account on both. Spawning, health checks and stopping are
``labkit.backends.servers``'s, as for the embedded backend: a recorded server is the room's only if its
pid, start time and folder still match; a start that fails stops whatever it started; ``down`` also
stops the room's processes when ``state.json`` is gone.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config
from labkit.backends import embedded, servers
from labkit.classroom.roster import Learner, folder, private_folder, roster_path, write_private
from labkit.errors import BackendNotRunning, ClassroomError, PortInUse

DEFAULT_PORT = 4610  # MiniStack for the room (the learner's own embedded backend keeps 4600)
DEFAULT_MOTO_PORT = 4611
RESET_PATH = "/_labkit/classroom/reset"
TOKEN_HEADER = "X-Labkit-Classroom-Token"
MARKER = "labkit-classroom-server"  # in each server's command line (for `ps`); identity is servers.is_running
START_TIMEOUT = 30.0
SERVER_SCRIPT = Path(__file__).with_name("server.py")  # run by path: labkit is not in the servers' venv


def _state_path() -> Path:
    return folder() / "state.json"


# ----------------------------------------------------------------------------- addresses


def check_bind(bind: str | None) -> str:
    """The address to listen on, which must be chosen explicitly (an IPv4 address of this machine)."""
    if not bind:
        raise ClassroomError(
            "choose who can reach the room's server: pass --bind <this machine's address on the room network, "
            "e.g. 192.168.1.20> (or --bind 0.0.0.0 for every network this machine is on)"
        )
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        raise ClassroomError(f"--bind {bind!r} is not an IPv4 address: use e.g. 192.168.1.20 (see `ip addr`)") from None
    if address.version != 4:
        raise ClassroomError(f"--bind {bind}: classroom mode takes an IPv4 address, e.g. 192.168.1.20")
    return str(address)


def guess_lan_address() -> str | None:
    """This machine's address on its default route. A UDP connect sends no packet; it only picks a route."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 9))
        address: str = s.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def _choose_port(bind: str, wanted: int, flag: str) -> int:
    config.check_port(wanted, flag)
    if wanted == 0:
        with contextlib.suppress(OSError):
            return servers.free_port(bind)
    err = servers.bind_error(bind, wanted, reuse_address=True)
    if err == errno.EADDRNOTAVAIL:
        raise ClassroomError(
            f"{bind} is not an address of this machine: pass one that `ip addr` (macOS: `ifconfig`) lists, "
            "or --bind 0.0.0.0"
        )
    if err == errno.EACCES:
        raise ClassroomError(f"port {wanted} needs administrator rights here: pass {flag} 1024 or above")
    if err is not None:
        raise PortInUse(f"port {wanted} on {bind} is taken by another program: stop it, or pass {flag} <other port>")
    return wanted


# ----------------------------------------------------------------------------- state


@dataclass
class RoomServer(servers.Server):
    """One of the room's two servers, as recorded in its state file."""


@dataclass
class Room:
    bind: str
    advertise: str  # the address learners use
    token: str  # admin token: reset and the servers' own admin pages
    started_at: float
    ministack: RoomServer
    moto: RoomServer
    sandboxed: bool = True  # learners' Lambda handlers run in bubblewrap (False: --unsandboxed-lambda)

    @property
    def servers(self) -> tuple[RoomServer, RoomServer]:
        return (self.ministack, self.moto)

    def local_url(self, server: RoomServer) -> str:
        """Where this machine reaches the server (0.0.0.0 answers on loopback)."""
        host = "127.0.0.1" if self.bind == "0.0.0.0" else self.bind
        return f"http://{host}:{server.port}"

    def learner_url(self, server: RoomServer) -> str:
        return f"http://{self.advertise}:{server.port}"


def read_room() -> Room | None:
    try:
        raw = json.loads(_state_path().read_text())
        raw["ministack"] = RoomServer(**raw["ministack"])
        raw["moto"] = RoomServer(**raw["moto"])
        return Room(**raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_room(room: Room) -> None:
    private_folder()
    write_private(_state_path(), json.dumps(asdict(room), indent=2))


def is_alive(server: RoomServer) -> bool:
    """True if the recorded server still runs and is the room's: same pid, start time and folder."""
    return servers.is_running(server, folder())


def _request(room: Room, server: RoomServer, path: str, method: str = "GET", timeout: float = 2.0) -> tuple[int, bytes]:
    return servers.request(
        room.local_url(server) + path, method=method, headers={TOKEN_HEADER: room.token}, timeout=timeout
    )


def answers(room: Room, server: RoomServer, timeout: float = 1.0) -> bool:
    path = "/_ministack/health" if server.name == "ministack" else "/moto-api/"
    return servers.answers(room.local_url(server) + path, timeout, headers={TOKEN_HEADER: room.token})


def healthy(room: Room) -> bool:
    return all(is_alive(s) and answers(room, s) for s in room.servers)


# ----------------------------------------------------------------------------- starting and stopping


def _spawn(python: Path, name: str, bind: str, port: int, token: str, sandbox: bool) -> subprocess.Popen[bytes]:
    # MiniStack: the gateway on the chosen address only; none of its optional extra listeners.
    # The token goes through a pipe (stdin), never the environment: see server.py.
    env = servers.ministack_env(bind, port)
    mode = "sandbox" if sandbox else "unsandboxed"
    return servers.spawn(
        [str(python), str(SERVER_SCRIPT), MARKER, name, bind, str(port), str(roster_path()), mode],
        env,
        folder() / f"{name}.log",
        folder(),
        scrub=(*servers.SCRUBBED, "MOTO_", "MINISTACK_"),
        secret=token.encode(),
    )


NO_SANDBOX_FLAG = "--unsandboxed-lambda"


def check_sandbox(sandbox: bool) -> None:
    """Refuse to run learners' Lambda code on this machine without bubblewrap (unless opted out)."""
    if sandbox and shutil.which("bwrap") is None:
        raise ClassroomError(
            "the room runs learners' Lambda code only inside bubblewrap, which is missing: install it "
            f"(Debian/Ubuntu: sudo apt-get install bubblewrap), or pass {NO_SANDBOX_FLAG} if you trust every learner "
            "(see docs/instructors.md)"
        )


def _terminate(recorded: Iterable[RoomServer]) -> list[str]:
    """Stop the recorded servers that are still the room's, then any other process of the room's folder."""
    stopped = servers.terminate(recorded, is_alive, sweep=True)
    return stopped + [name for name in servers.stop_owned(folder()) if name not in stopped]


def up(
    bind: str | None,
    advertise: str | None = None,
    port: int = DEFAULT_PORT,
    moto_port: int = DEFAULT_MOTO_PORT,
    *,
    sandbox: bool = True,
) -> tuple[Room, bool]:
    """Start the room's servers on ``bind`` (or return the running room). Returns (room, started_now).

    ``sandbox=False`` runs learners' Lambda handlers unconfined (``--unsandboxed-lambda``)."""
    bind = check_bind(bind)
    check_sandbox(sandbox)
    with embedded.locked():
        room = read_room()
        if room is not None and healthy(room):
            if room.bind != bind:
                raise ClassroomError(
                    f"the room is already running on {room.bind}: stop it with `labkit classroom down` first"
                )
            return room, False
        _terminate(room.servers if room is not None else [])
        if advertise is None:
            advertise = bind if bind != "0.0.0.0" else guess_lan_address()
            if advertise is None:
                raise ClassroomError("cannot tell this machine's room address: pass --advertise <address>")
        python = servers.server_python()
        versions = servers.installed_versions(python)
        ports = {
            "ministack": _choose_port(bind, port, "--port"),
            "moto": _choose_port(bind, moto_port, "--moto-port"),
        }
        if ports["ministack"] == ports["moto"]:
            raise ClassroomError("--port and --moto-port must differ")
        private_folder()
        token = secrets.token_urlsafe(24)
        started: list[RoomServer] = []
        try:
            return _start(python, versions, bind, advertise, ports, token, sandbox, started), True
        except BaseException as err:
            _terminate(started)
            if isinstance(err, OSError):
                raise ClassroomError(
                    f"the room could not start: {err.strerror or err} ({err.filename or folder()}); nothing was "
                    "left running: free some disk space, then run `labkit classroom up` again"
                ) from None
            raise


def _start(
    python: Path,
    versions: dict[str, str],
    bind: str,
    advertise: str,
    ports: dict[str, int],
    token: str,
    sandbox: bool,
    started: list[RoomServer],
) -> Room:
    procs = {}
    for name, port in ports.items():
        procs[name] = _spawn(python, name, bind, port, token, sandbox)
        started.append(RoomServer(**asdict(servers.record(name, procs[name], port, versions.get(name, "?"), folder()))))
    made = {s.name: s for s in started}
    new = Room(bind, advertise, token, time.time(), made["ministack"], made["moto"], sandbox)
    servers.wait_until_answering(
        [servers.Starting(n, procs[n], folder() / f"{n}.log", functools.partial(answers, new, made[n])) for n in made],
        START_TIMEOUT,
        exited=lambda s: (
            f"the room's {s.name} exited while starting: {servers.last_line(s.log) or 'no output'}; see {s.log}"
        ),
        late=lambda names: f"the room's {', '.join(names)} did not answer in time",
        stop=lambda: _terminate(new.servers),
        interval=0.05,
    )
    _write_room(new)
    return new


def require_room() -> Room:
    room = read_room()
    if room is None:
        raise BackendNotRunning("the classroom is not running: start it with `labkit classroom up --bind <address>`")
    if not healthy(room):
        raise BackendNotRunning("the classroom's servers are down: restart them with `labkit classroom up --bind ...`")
    return room


def down() -> list[str]:
    with embedded.locked():
        room = read_room()
        stopped = _terminate(room.servers if room is not None else [])
        _state_path().unlink(missing_ok=True)
        return stopped


# ----------------------------------------------------------------------------- per learner


def reset_learner(room: Room, learner: Learner) -> dict[str, int]:
    """Drop everything of this learner's account on both servers. Returns entries removed per server."""
    removed: dict[str, int] = {}
    query = "?" + urllib.parse.urlencode({"account": learner.access_key_id})
    for server in room.servers:
        status, body = _request(room, server, RESET_PATH + query, method="POST", timeout=60)
        if status != 200:
            raise ClassroomError(f"the room's {server.name} refused the reset ({status}): {body[:200]!r}")
        removed[server.name] = int(json.loads(body)["removed"])
    return removed


def memory_mb(server: RoomServer) -> float | None:
    return servers.memory_mb(server.pid)
