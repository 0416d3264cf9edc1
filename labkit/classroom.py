"""Classroom mode: one embedded backend for a whole room, each learner in an account of their own.

The instructor runs ``labkit classroom up --bind <address> --learners 30``. That starts MiniStack
and a moto server (the same pinned servers as the embedded backend, from ``.venv-server``) on the
chosen address, writes a roster with one random 12-digit access key id (and a secret) per learner,
and ``labkit classroom key <learner>`` prints the settings that learner loads before ``make lab``.

How learners are kept apart:

- MiniStack takes a 12-digit access key id as the account and scopes all its state by account
  (and region), so each learner's key is their own account there.
- moto 5.2.5 on its own maps every unknown access key to one default account (123456789012),
  so a plain moto server would be shared by the room. The classroom's moto runs behind a small WSGI
  wrapper that copies a 12-digit access key id into moto's ``x-moto-account-id`` request header,
  which moto honours as the account: EC2, VPC, EBS, Auto Scaling, Elastic Beanstalk and Glacier
  are per learner too (tests/unit/test_classroom.py checks both servers).

Both servers run through a short launcher (``SERVER_SCRIPT`` below, written to
``LABKIT_HOME/classroom/server.py`` at each start) that adds one admin call, ``POST
/_labkit/classroom/reset?account=<id>``: it drops that account's state from the server's per-account
stores (MiniStack's account-scoped dicts, moto's per-account backends) and leaves every other
account alone; ``labkit classroom reset <learner>`` calls it on both servers. Admin calls, and the
servers' own whole-server admin pages (``/_ministack/*`` except health, ``/moto-api/*``), need the
instructor's token (kept in the state file, mode 0600), so a learner cannot wipe the room.

The keys are not a security boundary: neither server checks the secret key, so anyone who can reach
the port and knows (or guesses, out of 10^12) a learner's key id acts as that learner. Bind to the
room's network only, behind a firewall; see docs/instructors.md.

A learner's kernel reaches the room through ``labkit.connect()``: when ``LABKIT_CLASSROOM_URL`` is
set, the embedded backend joins that server with the learner's key instead of starting local
servers (``learner_env`` below; ``labkit.lab.connect`` calls it).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import ipaddress
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config
from labkit.backends import embedded
from labkit.errors import BackendFailedToStart, BackendNotRunning, ClassroomError, PortInUse

DEFAULT_PORT = 4610  # MiniStack for the room (the learner's own embedded backend keeps 4600)
DEFAULT_MOTO_PORT = 4611
RESET_PATH = "/_labkit/classroom/reset"
TOKEN_HEADER = "X-Labkit-Classroom-Token"
MARKER = "labkit-classroom-server"  # in each server's command line, so a reused pid is never ours
START_TIMEOUT = 30.0
# Defaults the two servers use for a key that is not 12 digits: never hand these out.
_RESERVED = {"000000000000", "123456789012"}

# What a learner's settings file sets, read by labkit.connect() (see learner_env).
ENV_URL = "LABKIT_CLASSROOM_URL"
ENV_MOTO_URL = "LABKIT_CLASSROOM_MOTO_URL"
ENV_KEY = "LABKIT_CLASSROOM_KEY"
ENV_SECRET = "LABKIT_CLASSROOM_SECRET"
ENV_LEARNER = "LABKIT_CLASSROOM_LEARNER"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


# ----------------------------------------------------------------------------- files


def folder() -> Path:
    return config.home() / "classroom"


def roster_path() -> Path:
    return folder() / "roster.csv"


def _state_path() -> Path:
    return folder() / "state.json"


def _private_folder() -> Path:
    path = folder()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), replacing it atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # also if the file was already there with wider rights
    tmp.replace(path)


# ----------------------------------------------------------------------------- the roster


@dataclass(frozen=True)
class Learner:
    name: str
    access_key_id: str  # 12 digits: the learner's account on both servers
    secret_access_key: str  # required by the SDKs; neither server checks it


def new_key(taken: set[str]) -> str:
    """A random 12-digit access key id (from ``secrets``: not guessable from the others)."""
    while True:
        key = f"{secrets.randbelow(10**12):012d}"
        if key not in taken and key not in _RESERVED:
            return key


def read_roster() -> list[Learner]:
    try:
        with roster_path().open(newline="") as f:
            return [Learner(r["learner"], r["access_key_id"], r["secret_access_key"]) for r in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def _write_roster(learners: list[Learner]) -> None:
    _private_folder()
    lines = [["learner", "access_key_id", "secret_access_key"]]
    lines += [[x.name, x.access_key_id, x.secret_access_key] for x in learners]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    _write_private(roster_path(), buffer.getvalue())


def learner_names(count: int | None = None, names: str | None = None) -> list[str]:
    """``--learners 30`` gives learner01..learner30; ``--names ana,ben`` gives those names."""
    if names:
        out = [n.strip() for n in names.split(",") if n.strip()]
        bad = [n for n in out if not _NAME.fullmatch(n)]
        if bad:
            raise ClassroomError(f"learner name {bad[0]!r} is not usable: use letters, digits, '.', '_' or '-'")
        if len(set(out)) != len(out):
            raise ClassroomError("--names lists a learner twice: give each learner one name")
        return out
    if count is None:
        return []
    if not 1 <= count <= 500:
        raise ClassroomError(f"--learners {count}: use 1 to 500")
    width = max(2, len(str(count)))
    return [f"learner{i:0{width}d}" for i in range(1, count + 1)]


def ensure_roster(names: list[str]) -> tuple[list[Learner], list[Learner]]:
    """Keep every learner already on the roster (their keys stay valid), add the missing ones.

    Returns (whole roster, the ones added now).
    """
    roster = read_roster()
    known = {x.name for x in roster}
    taken = {x.access_key_id for x in roster}
    added = []
    for name in names:
        if name in known:
            continue
        key = new_key(taken)
        taken.add(key)
        added.append(Learner(name, key, secrets.token_urlsafe(30)))
    roster += added
    if added or not roster_path().exists():
        _write_roster(roster)
    return roster, added


def find_learner(name: str, roster: list[Learner] | None = None) -> Learner:
    roster = read_roster() if roster is None else roster
    for learner in roster:
        if learner.name == name:
            return learner
    if not roster:
        raise ClassroomError("there is no roster yet: start the room with `labkit classroom up --bind ...`")
    sample = ", ".join(x.name for x in roster[:3])
    raise ClassroomError(f"no learner {name!r} on the roster ({sample}, ...): see `labkit classroom status`")


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
        address = s.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def _bind_error(bind: str, port: int) -> int | None:
    """None if ``bind:port`` can be listened on, else the errno."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bind, port))
        except OSError as err:
            return err.errno or -1
        return None


def _choose_port(bind: str, wanted: int, flag: str) -> int:
    if wanted == 0:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind((bind, 0))
            return s.getsockname()[1]
    err = _bind_error(bind, wanted)
    if err == errno.EADDRNOTAVAIL:
        raise ClassroomError(
            f"{bind} is not an address of this machine: pass one that `ip addr` (macOS: `ifconfig`) lists, "
            "or --bind 0.0.0.0"
        )
    if err is not None:
        raise PortInUse(f"port {wanted} on {bind} is taken by another program: stop it, or pass {flag} <other port>")
    return wanted


# ----------------------------------------------------------------------------- state


@dataclass
class RoomServer:
    name: str  # "ministack" or "moto"
    pid: int
    port: int
    version: str


@dataclass
class Room:
    bind: str
    advertise: str  # the address learners use
    token: str  # admin token: reset and the servers' own admin pages
    started_at: float
    ministack: RoomServer
    moto: RoomServer

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
    _private_folder()
    _write_private(_state_path(), json.dumps(asdict(room), indent=2))


def is_alive(server: RoomServer) -> bool:
    try:
        os.kill(server.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{server.pid}/cmdline")
    if cmdline.exists():
        text = cmdline.read_bytes().decode(errors="replace")
        return MARKER in text and server.name in text
    return True


def _request(room: Room, server: RoomServer, path: str, method: str = "GET", timeout: float = 2.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        room.local_url(server) + path,
        method=method,
        data=b"" if method == "POST" else None,
        headers={TOKEN_HEADER: room.token},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def answers(room: Room, server: RoomServer, timeout: float = 1.0) -> bool:
    path = "/_ministack/health" if server.name == "ministack" else "/moto-api/"
    try:
        return _request(room, server, path, timeout=timeout)[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def healthy(room: Room) -> bool:
    return all(is_alive(s) and answers(room, s) for s in room.servers)


# ----------------------------------------------------------------------------- starting and stopping


def _spawn(python: Path, name: str, bind: str, port: int, token: str) -> subprocess.Popen:
    script = folder() / "server.py"
    env = {
        "LABKIT_CLASSROOM_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        # MiniStack: the gateway on the chosen address only; none of its optional extra listeners.
        "GATEWAY_PORT": str(port),
        "BIND_HOST": bind,
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_", "MOTO_", "MINISTACK_"))}
    log = folder() / f"{name}.log"
    return subprocess.Popen(
        [str(python), str(script), MARKER, name, bind, str(port)],
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=folder(),
    )


def _terminate(servers) -> list[str]:
    return embedded._terminate(servers, alive=is_alive)


def up(bind: str | None, advertise: str | None = None, port: int = DEFAULT_PORT, moto_port: int = DEFAULT_MOTO_PORT):
    """Start the room's servers on ``bind`` (or return the running room). Returns (room, started_now)."""
    bind = check_bind(bind)
    with embedded._locked():
        room = read_room()
        if room is not None and healthy(room):
            if room.bind != bind:
                raise ClassroomError(
                    f"the room is already running on {room.bind}: stop it with `labkit classroom down` first"
                )
            return room, False
        if room is not None:
            _terminate(room.servers)
        if advertise is None:
            advertise = bind if bind != "0.0.0.0" else guess_lan_address()
            if advertise is None:
                raise ClassroomError("cannot tell this machine's room address: pass --advertise <address>")
        python = embedded.server_python()
        versions = embedded.installed_versions(python)
        ports = {
            "ministack": _choose_port(bind, port, "--port"),
            "moto": _choose_port(bind, moto_port, "--moto-port"),
        }
        if ports["ministack"] == ports["moto"]:
            raise ClassroomError("--port and --moto-port must differ")
        _private_folder()
        (folder() / "server.py").write_text(SERVER_SCRIPT)
        token = secrets.token_urlsafe(24)
        procs = {name: _spawn(python, name, bind, p, token) for name, p in ports.items()}
        servers = {n: RoomServer(n, procs[n].pid, ports[n], versions.get(n, "?")) for n in procs}
        room = Room(bind, advertise, token, time.time(), servers["ministack"], servers["moto"])
        deadline = time.monotonic() + START_TIMEOUT
        waiting = set(servers)
        while waiting:
            for name in sorted(waiting):
                if procs[name].poll() is not None:
                    _terminate(room.servers)
                    detail = embedded._last_line(folder() / f"{name}.log")
                    raise BackendFailedToStart(
                        f"the room's {name} exited while starting: {detail or 'no output'}; "
                        f"see {folder() / (name + '.log')}"
                    )
                if answers(room, servers[name], timeout=0.5):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                _terminate(room.servers)
                raise BackendFailedToStart(f"the room's {', '.join(sorted(waiting))} did not answer in time")
            if waiting:
                time.sleep(0.05)
        _write_room(room)
        return room, True


def require_room() -> Room:
    room = read_room()
    if room is None:
        raise BackendNotRunning("the classroom is not running: start it with `labkit classroom up --bind <address>`")
    if not healthy(room):
        raise BackendNotRunning("the classroom's servers are down: restart them with `labkit classroom up --bind ...`")
    return room


def down() -> list[str]:
    with embedded._locked():
        room = read_room()
        if room is None:
            return []
        stopped = _terminate(room.servers)
        _state_path().unlink(missing_ok=True)
        return stopped


# ----------------------------------------------------------------------------- learners' settings


def settings(room: Room, learner: Learner, region: str | None = None) -> dict[str, str]:
    """Every variable a learner sets: what labkit.connect() reads, and the same for the AWS CLI and boto3."""
    from labkit.backends.services import moto_endpoint_envs

    region = region or config.region()
    ministack, moto = room.learner_url(room.ministack), room.learner_url(room.moto)
    values = {
        "LABKIT_BACKEND": "embedded",
        ENV_URL: ministack,
        ENV_MOTO_URL: moto,
        ENV_KEY: learner.access_key_id,
        ENV_SECRET: learner.secret_access_key,
        ENV_LEARNER: learner.name,
        "AWS_ACCESS_KEY_ID": learner.access_key_id,
        "AWS_SECRET_ACCESS_KEY": learner.secret_access_key,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": ministack,
    }
    values.update({name: moto for name in moto_endpoint_envs()})
    return values


def local_settings(room: Room, learner: Learner, region: str | None = None) -> dict[str, str]:
    """``settings`` for a kernel on the instructor's own machine (JupyterHub, ``classroom progress``)."""
    from labkit.backends.services import moto_endpoint_envs

    values = settings(room, learner, region)
    ministack, moto = room.local_url(room.ministack), room.local_url(room.moto)
    values.update({ENV_URL: ministack, "AWS_ENDPOINT_URL": ministack, ENV_MOTO_URL: moto})
    values.update({name: moto for name in moto_endpoint_envs()})
    return values


def env_file(room: Room, learner: Learner) -> str:
    """The small file a learner gets: ``source <file>`` in the terminal they run ``make lab`` from."""
    lines = [
        f"# labkit classroom · learner {learner.name} · server {room.advertise}",
        "# In the labkit folder, in a terminal:  source <this file>  then  make lab",
        "# Keep it to yourself: the key is your own account on the room's server.",
        "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN",
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in settings(room, learner).items()]
    return "\n".join(lines) + "\n"


def write_env_file(room: Room, learner: Learner, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, env_file(room, learner))
    return path


def learner_env() -> tuple[dict[str, str], str, str, str] | None:
    """For ``labkit.connect()``: (SDK settings, MiniStack URL, moto URL, learner) when this machine is a
    learner's in a classroom (``LABKIT_CLASSROOM_URL`` set), else None.

    Raises BackendNotRunning with what to do if the room's server does not answer.
    """
    from labkit.backends.services import moto_endpoint_envs

    url = os.environ.get(ENV_URL, "").strip().rstrip("/")
    if not url:
        return None
    moto = os.environ.get(ENV_MOTO_URL, "").strip().rstrip("/")
    key = os.environ.get(ENV_KEY, "").strip()
    secret = os.environ.get(ENV_SECRET, "").strip()
    missing = [n for n, v in ((ENV_MOTO_URL, moto), (ENV_KEY, key), (ENV_SECRET, secret)) if not v]
    if missing:
        raise ClassroomError(f"{ENV_URL} is set but {', '.join(missing)} is not: load your whole classroom file")
    if not re.fullmatch(r"\d{12}", key):
        raise ClassroomError(f"{ENV_KEY} must be the 12-digit key from your classroom file")
    for what, base, path in (("MiniStack", url, "/_ministack/health"), ("moto", moto, "/moto-api/")):
        try:
            # moto's page needs the instructor's token: any HTTP answer means the server is there.
            urllib.request.urlopen(base + path, timeout=3).close()
        except urllib.error.HTTPError:
            pass
        except (urllib.error.URLError, OSError, ValueError):
            raise BackendNotRunning(
                f"the classroom server ({what}) at {base} does not answer: check you are on the room's network, "
                "or ask the instructor"
            ) from None
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": url}
    env.update({name: moto for name in moto_endpoint_envs()})
    return env, url, moto, os.environ.get(ENV_LEARNER, "").strip()


# ----------------------------------------------------------------------------- per learner


def reset_learner(room: Room, learner: Learner) -> dict[str, int]:
    """Drop everything of this learner's account on both servers. Returns entries removed per server."""
    removed = {}
    query = "?" + urllib.parse.urlencode({"account": learner.access_key_id})
    for server in room.servers:
        status, body = _request(room, server, RESET_PATH + query, method="POST", timeout=60)
        if status != 200:
            raise ClassroomError(f"the room's {server.name} refused the reset ({status}): {body[:200]!r}")
        removed[server.name] = json.loads(body)["removed"]
    return removed


def learner_session(room: Room, learner: Learner, region: str | None = None):
    """A boto3 session acting as this learner (the instructor's view of their account)."""
    import boto3
    import botocore.config

    session = boto3.session.Session(
        aws_access_key_id=learner.access_key_id,
        aws_secret_access_key=learner.secret_access_key,
        region_name=region or config.region(),
    )
    cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=30)
    from labkit.backends.services import MOTO_CLIENTS

    def client(name: str):
        server = room.moto if name in MOTO_CLIENTS else room.ministack
        return session.client(name, endpoint_url=room.local_url(server), config=cfg)

    return session, client


def summary(room: Room, learner: Learner) -> dict[str, int | str]:
    """A few counts of what the learner has now (queues, buckets, tables, functions, instances)."""
    _, client = learner_session(room, learner)
    counts: dict[str, int | str] = {}
    calls: dict[str, Callable[[], int]] = {
        "queues": lambda: len(client("sqs").list_queues().get("QueueUrls", [])),
        "buckets": lambda: len(client("s3").list_buckets().get("Buckets", [])),
        "tables": lambda: len(client("dynamodb").list_tables().get("TableNames", [])),
        "functions": lambda: len(client("lambda").list_functions().get("Functions", [])),
        "instances": lambda: sum(
            len(r["Instances"])
            for r in client("ec2").describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
            )["Reservations"]
        ),
    }
    for name, call in calls.items():
        try:
            counts[name] = call()
        except Exception as err:  # one service down must not hide the others
            counts[name] = f"? ({type(err).__name__})"
    return counts


def progress_rows(room: Room, roster: list[Learner], lessons=None) -> list[tuple[str, list]]:
    """Run ``labkit.exercises.run_all`` once per learner, as that learner (env and default credentials)."""
    import boto3

    from labkit.course import progress as exercises

    saved = dict(os.environ)
    rows = []
    try:
        for learner in roster:
            os.environ.update(local_settings(room, learner))
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
                os.environ.pop(name, None)
            boto3.DEFAULT_SESSION = None
            rows.append((learner.name, exercises.run_all(lessons)))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = None
    return rows


def memory_mb(server: RoomServer) -> float | None:
    return embedded.memory_mb(embedded.Server(server.name, server.pid, server.port, server.version))


# ----------------------------------------------------------------------------- the servers' launcher

# Runs under the servers' Python (.venv-server), not labkit's: standard library, ministack and moto only.
SERVER_SCRIPT = r'''"""labkit classroom server launcher: written by `labkit classroom up` at each start (do not edit).

argv: <marker> ministack|moto <bind address> <port>
"""
import asyncio
import gc
import hmac
import json
import logging
import os
import re
import sys
from urllib.parse import parse_qs

KIND, HOST, PORT = sys.argv[2], sys.argv[3], int(sys.argv[4])
TOKEN = os.environ.pop("LABKIT_CLASSROOM_TOKEN").encode()
RESET_PATH = "/_labkit/classroom/reset"
ACCOUNT = re.compile(r"^\d{12}$")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def allowed(token):
    return bool(token) and hmac.compare_digest(token.encode() if isinstance(token, str) else token, TOKEN)


def account_of(query):
    value = parse_qs(query).get("account", [""])[0]
    return value if ACCOUNT.match(value) else None


def wipe_ministack(account):
    from ministack.core.responses import AccountRegionScopedDict, AccountScopedDict

    removed = 0
    for obj in gc.get_objects():
        if isinstance(obj, (AccountScopedDict, AccountRegionScopedDict)):
            for key in list(obj._data):
                if isinstance(key, tuple) and key and key[0] == account:
                    obj._data.pop(key, None)
                    removed += 1
    # Warm Lambda workers are keyed "<account>:<region>:<function>:..."; stop this account's.
    try:
        from ministack.core import lambda_runtime

        with lambda_runtime._lock:
            doomed = [w for k in list(lambda_runtime._workers) if k.split(":")[0] == account
                      for w in lambda_runtime._workers.pop(k, [])]
        lambda_runtime.kill_workers(doomed)
    except Exception as err:
        print(f"classroom reset: Lambda workers not stopped: {err!r}", flush=True)
    try:
        from ministack.services import sts

        for key, session in list(sts._sessions.items()):
            if f"::{account}:" in str(session.get("Arn", "")):
                sts._sessions.pop(key, None)
    except Exception as err:
        print(f"classroom reset: STS sessions not cleared: {err!r}", flush=True)
    return removed


def wipe_moto(account):
    from moto.core.base_backend import BackendDict, backend_lock

    removed = 0
    with backend_lock:
        for backends in list(BackendDict._instances):
            if dict.__contains__(backends, account):
                dict.pop(backends, account, None)
                removed += 1
    return removed


def serve_ministack():
    import ministack.app as ministack_app

    inner = ministack_app.app

    async def reply(send, status, doc):
        body = json.dumps(doc).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send):
        if scope["type"] == "http":
            path = scope.get("path", "")
            token = dict(scope.get("headers") or []).get(b"x-labkit-classroom-token", b"")
            if path == RESET_PATH:
                account = account_of(scope.get("query_string", b"").decode())
                if not allowed(token):
                    return await reply(send, 403, {"error": "the instructor's token is required"})
                if scope["method"] != "POST" or account is None:
                    return await reply(send, 400, {"error": "POST with ?account=<12 digits>"})
                async with ministack_app._get_reset_lock():
                    removed = await asyncio.to_thread(wipe_ministack, account)
                return await reply(send, 200, {"removed": removed})
            if path.startswith("/_ministack/") and path not in ("/_ministack/health", "/_ministack/ready"):
                if not allowed(token):
                    return await reply(send, 403, {"error": "classroom mode: admin pages need the instructor's token"})
        await inner(scope, receive, send)

    ministack_app.app = app
    sys.argv = [sys.argv[0]]
    ministack_app.main()


def serve_moto():
    import signal

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import signal_handler
    from werkzeug.serving import run_simple

    inner = DomainDispatcherApplication(create_backend_app)

    def reply(start_response, status, doc):
        body = json.dumps(doc).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        token = environ.get("HTTP_X_LABKIT_CLASSROOM_TOKEN", "")
        if path == RESET_PATH:
            account = account_of(environ.get("QUERY_STRING", ""))
            if not allowed(token):
                return reply(start_response, "403 Forbidden", {"error": "the instructor's token is required"})
            if environ["REQUEST_METHOD"] != "POST" or account is None:
                return reply(start_response, "400 Bad Request", {"error": "POST with ?account=<12 digits>"})
            return reply(start_response, "200 OK", {"removed": wipe_moto(account)})
        if path.startswith("/moto-api") and not allowed(token):
            return reply(start_response, "403 Forbidden", {"error": "classroom mode: admin pages need the token"})
        # The account is the 12-digit access key id, as on MiniStack; any other key: moto's own rules.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        key = match.group(1) if match else parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        key = key.split("/")[0]
        if ACCOUNT.match(key):
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = key
        return inner(environ, start_response)

    signal.signal(signal.SIGTERM, signal_handler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (MiniStack: LOG_LEVEL)
    os.environ.setdefault("MOTO_PORT", str(PORT))
    run_simple(HOST, PORT, app, threaded=True, request_handler=MotoRequestHandler)


if KIND == "ministack":
    serve_ministack()
else:
    serve_moto()
'''
