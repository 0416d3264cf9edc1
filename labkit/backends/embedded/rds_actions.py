"""MiniStack's RDS actions with a real PostgreSQL behind each ``postgres`` instance (the engines: ``rds_engine.py``).

Loaded by path into MiniStack's process by ``ministack_fixes.py``, which calls ``install`` when
``LABKIT_RDS_DIR`` is set (the embedded backend sets it to ``LABKIT_HOME/rds``). ``install`` replaces
entries of MiniStack's RDS action table; each calls MiniStack's own action, then does what AWS does
to the database itself:

- ``CreateDBInstance`` (``Engine="postgres"``, not in a cluster): an engine with ``MasterUsername``/
  ``MasterUserPassword`` and ``DBName``; ``Endpoint`` becomes ``127.0.0.1:<its port>``. AWS's rule for
  the two names (1–63 letters, digits, underscores, a letter first) is checked first, as AWS checks it.
  The answer says ``creating``, as AWS's does; the engine is ready when the call returns, so
  ``describe_db_instances`` says ``available`` at once.
- ``CreateDBSnapshot``: a copy of the data; ``DeleteDBSnapshot`` removes it.
- ``RestoreDBInstanceFromDBSnapshot``: a new engine on its own port and files, from the copy, with the
  source's master user and password (AWS restores them with the data).
- ``DeleteDBInstance``: a final snapshot first when ``FinalDBSnapshotIdentifier`` is given without
  ``SkipFinalSnapshot``; then the engine stops and its files go.
- ``StopDBInstance``/``StartDBInstance``: the engine stops and starts again on the same files.
- ``ModifyDBInstance`` with ``MasterUserPassword``: the master user's password changes in the engine.
- MiniStack's reset and its exit stop every engine and remove every engine's and snapshot's files (a reset keeps
  the template, which holds no one's data).

MiniStack's own Docker containers are switched off (``_get_docker``), so a machine with Docker gets the same engine,
and nothing is pulled. When the engine cannot be made, the call fails with ``LabkitEngineFailed`` and a line that
says why (and MiniStack's record is taken back), never a record that only looks like a database.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any


def _neighbour(name: str) -> ModuleType:
    """A module next to this one: from labkit when this one was imported from labkit, else by path, as this one was
    (in MiniStack's process, whose ``PYTHONPATH`` may well name a labkit checkout: it must not import labkit)."""
    if __name__.startswith("labkit."):
        return importlib.import_module(f"labkit.backends.embedded.{name}")
    spec = importlib.util.spec_from_file_location(f"labkit_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_USED = (
    "NAME",
    "Engine",
    "EngineError",
    "change_password",
    "initialize",
    "remove",
    "restore",
    "set_up",
    "snapshot",
    "start",
    "stop",
)
if TYPE_CHECKING:
    from labkit.backends.embedded.rds_engine import (
        NAME,
        Engine,
        EngineError,
        change_password,
        initialize,
        remove,
        restore,
        set_up,
        snapshot,
        start,
        stop,
    )
else:
    _engine = _neighbour("rds_engine")
    globals().update({name: getattr(_engine, name) for name in _USED})


class Engines:
    """The engines of one MiniStack process, by key; every change under one lock."""

    def __init__(self, rds_dir: Path) -> None:
        self.dir = rds_dir
        self.by_key: dict[str, Engine] = {}
        self.snapshot_passwords: dict[str, str] = {}  # snapshot key → the master password its copy holds
        self.lock = threading.RLock()

    def folder(self, key: str) -> Path:
        return self.dir / key

    def snapshot_folder(self, key: str) -> Path:
        return self.dir / "snapshots" / key

    def stop_all(self, keep_template: bool = False) -> None:
        """Stop every engine and remove its files and every snapshot (the template too, unless kept)."""
        with self.lock:
            for engine in self.by_key.values():
                stop(engine)
            self.by_key.clear()
            self.snapshot_passwords.clear()
            for each in self.dir.glob("*") if keep_template else [self.dir]:
                if each.name != "template" or not keep_template:
                    remove(each)


def _log(line: str) -> None:
    print(f"labkit rds: {line}", flush=True)


def install(rds: Any, rds_dir: Path) -> Engines:
    """Wrap MiniStack's RDS module ``rds`` (``ministack.services.rds``) so postgres instances get an engine."""
    from ministack.core.responses import get_account_id, get_region

    engines = Engines(rds_dir)
    # MiniStack would start (and first pull) a Docker container per instance where a Docker engine answers;
    # here the engine is always labkit's, so a laptop with Docker behaves as one without, offline.
    rds._get_docker = lambda: None
    actions = rds._ACTION_MAP
    original = dict(actions)
    p = rds._p

    def key(name: str) -> str:
        return f"{get_account_id()}-{get_region()}-{name}"

    def failed(message: str) -> Any:
        _log(message)
        return rds._error("LabkitEngineFailed", f"labkit could not run PostgreSQL here: {message}", 400)

    def publish(instance: dict[str, Any], engine: Engine) -> None:
        instance["Endpoint"] = {**(instance.get("Endpoint") or {}), "Address": "127.0.0.1", "Port": engine.port}
        instance["_HostPort"] = engine.port

    def create(params: Any) -> Any:
        engine_name = p(params, "Engine")
        if engine_name != "postgres" or p(params, "DBClusterIdentifier"):
            return original["CreateDBInstance"](params)
        for what in ("MasterUsername", "DBName"):
            value = p(params, what)
            if value.lower() == "rdsadmin":
                return rds._error("InvalidParameterValue", f"{what} {value} is a reserved word used by the engine", 400)
            if value and not NAME.fullmatch(value):
                return rds._error(
                    "InvalidParameterValue",
                    f"{what} must be 1 to 63 letters, digits or underscores, starting with a letter",
                    400,
                )
        answer = original["CreateDBInstance"](params)
        db_id = p(params, "DBInstanceIdentifier")
        instance = rds._instances.get(db_id)
        if answer[0] != 200 or instance is None:
            return answer
        password = instance.get("_MasterUserPassword") or "password"
        engine = Engine(key(db_id), db_id, engines.folder(key(db_id)), instance["MasterUsername"], password)
        with engines.lock:
            try:
                remove(engine.folder)
                initialize(engine, engines.dir)
                start(engine)
                set_up(engine, instance.get("DBName"))
            except (EngineError, OSError, subprocess.SubprocessError) as err:
                stop(engine)
                remove(engine.folder)
                del rds._instances[db_id]
                return failed(f"{db_id}: {err}")
            engines.by_key[engine.key] = engine
        publish(instance, engine)
        _log(f"started PostgreSQL for {db_id} on 127.0.0.1:{engine.port} (pid {engine.process.pid})")  # type: ignore[union-attr]
        instance["DBInstanceStatus"] = "creating"  # what AWS answers CreateDBInstance with
        try:
            return rds._single_instance_response("CreateDBInstanceResponse", "CreateDBInstanceResult", instance)
        finally:
            instance["DBInstanceStatus"] = "available"

    def create_snapshot(params: Any) -> Any:
        answer = original["CreateDBSnapshot"](params)
        engine = engines.by_key.get(key(p(params, "DBInstanceIdentifier")))
        snap_id = p(params, "DBSnapshotIdentifier")
        if answer[0] != 200 or engine is None:
            return answer
        with engines.lock:
            try:
                take_snapshot(engine, snap_id)
            except (EngineError, OSError, subprocess.SubprocessError) as err:
                rds._snapshots.pop(snap_id, None)
                return failed(f"snapshot {snap_id}: {err}")
        return answer

    def take_snapshot(engine: Engine, snap_id: str) -> None:
        snapshot(engine, engines.snapshot_folder(key(snap_id)))
        engines.snapshot_passwords[key(snap_id)] = engine.password
        _log(f"snapshot {snap_id}: a copy of {engine.name}'s data")

    def delete_snapshot(params: Any) -> Any:
        answer = original["DeleteDBSnapshot"](params)
        if answer[0] == 200:
            with engines.lock:
                remove(engines.snapshot_folder(key(p(params, "DBSnapshotIdentifier"))))
                engines.snapshot_passwords.pop(key(p(params, "DBSnapshotIdentifier")), None)
        return answer

    def restore_snapshot(params: Any) -> Any:
        snap_id, db_id = p(params, "DBSnapshotIdentifier"), p(params, "DBInstanceIdentifier")
        source = engines.snapshot_folder(key(snap_id))
        answer = original["RestoreDBInstanceFromDBSnapshot"](params)
        instance = rds._instances.get(db_id)
        if answer[0] != 200 or instance is None or not source.exists():
            return answer
        password = engines.snapshot_passwords.get(key(snap_id), "password")
        engine = Engine(key(db_id), db_id, engines.folder(key(db_id)), instance["MasterUsername"], password)
        with engines.lock:
            try:
                remove(engine.folder)
                restore(source, engine)
                start(engine)
            except (EngineError, OSError, subprocess.SubprocessError) as err:
                stop(engine)
                remove(engine.folder)
                del rds._instances[db_id]
                return failed(f"restore of {snap_id} into {db_id}: {err}")
            engines.by_key[engine.key] = engine
        instance["_MasterUserPassword"] = engine.password
        publish(instance, engine)
        _log(f"restored {snap_id} into {db_id}: PostgreSQL on 127.0.0.1:{engine.port}")
        return rds._single_instance_response(
            "RestoreDBInstanceFromDBSnapshotResponse", "RestoreDBInstanceFromDBSnapshotResult", instance
        )

    def delete(params: Any) -> Any:
        db_id = p(params, "DBInstanceIdentifier")
        engine = engines.by_key.get(key(db_id))
        final = p(params, "FinalDBSnapshotIdentifier") if p(params, "SkipFinalSnapshot") != "true" else ""
        if engine is not None and final and final not in rds._snapshots:
            with engines.lock:
                try:
                    take_snapshot(engine, final)
                except (EngineError, OSError, subprocess.SubprocessError) as err:
                    return failed(f"final snapshot {final} of {db_id}: {err}")
        answer = original["DeleteDBInstance"](params)
        if engine is not None and answer[0] == 200:
            with engines.lock:
                stop(engine)
                remove(engine.folder)
                engines.by_key.pop(engine.key, None)
            _log(f"deleted {db_id}: its PostgreSQL stopped, its files removed")
        elif engine is not None and final and final not in rds._snapshots:
            remove(engines.snapshot_folder(key(final)))  # the delete was refused: no final snapshot either
        return answer

    def stop_instance(params: Any) -> Any:
        answer = original["StopDBInstance"](params)
        engine = engines.by_key.get(key(p(params, "DBInstanceIdentifier")))
        if engine is not None and answer[0] == 200:
            with engines.lock:
                stop(engine)
        return answer

    def start_instance(params: Any) -> Any:
        db_id = p(params, "DBInstanceIdentifier")
        engine = engines.by_key.get(key(db_id))
        if engine is None or engine.running:
            return original["StartDBInstance"](params)
        with engines.lock:
            try:
                start(engine)
            except (EngineError, OSError, subprocess.SubprocessError) as err:
                return failed(f"start of {db_id}: {err}")
        answer = original["StartDBInstance"](params)
        instance = rds._instances.get(db_id)
        if instance is not None:
            publish(instance, engine)
        return answer

    def modify(params: Any) -> Any:
        engine = engines.by_key.get(key(p(params, "DBInstanceIdentifier")))
        new_password = p(params, "MasterUserPassword")
        answer = original["ModifyDBInstance"](params)
        if engine is None or not new_password or answer[0] != 200 or not engine.running:
            return answer
        with engines.lock:
            try:
                change_password(engine, new_password)
            except (EngineError, OSError, subprocess.SubprocessError) as err:
                return failed(f"new master password for {engine.name}: {err}")
        _log(f"{engine.name}: the master user's password changed")
        return answer

    original_reset = rds.reset

    def reset() -> None:
        engines.stop_all(keep_template=True)  # it holds no one's data
        original_reset()

    actions.update(
        CreateDBInstance=create,
        CreateDBSnapshot=create_snapshot,
        DeleteDBSnapshot=delete_snapshot,
        RestoreDBInstanceFromDBSnapshot=restore_snapshot,
        DeleteDBInstance=delete,
        ModifyDBInstance=modify,
        StopDBInstance=stop_instance,
        StartDBInstance=start_instance,
    )
    rds.reset = reset
    atexit.register(engines.stop_all)
    return engines
