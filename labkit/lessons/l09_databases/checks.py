"""Checks for 09-databases."""

from __future__ import annotations

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates, newest, suffix_of


@exercise(1, "a session table", looks_for="table labkit-09-sessions-<suffix> or a tagged one")
def session_table(table: str) -> Result:
    """The table exists, is keyed by session_id (a string) only, bills on demand and has TTL on expires_at."""
    dynamodb = boto3.client("dynamodb")
    try:
        info = dynamodb.describe_table(TableName=table)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return hint(f"no table named {table!r}: create it with create_table")
    keys = {k["AttributeName"]: k["KeyType"] for k in info["KeySchema"]}
    if keys != {"session_id": "HASH"}:
        return hint(f"the key schema is {keys}; expected only a partition (HASH) key named session_id")
    types = {a["AttributeName"]: a["AttributeType"] for a in info["AttributeDefinitions"]}
    if types.get("session_id") != "S":
        return hint(f"session_id has type {types.get('session_id')!r}; make it a string ('S')")
    mode = info.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if mode != "PAY_PER_REQUEST":
        return hint(f"billing mode is {mode}: use BillingMode='PAY_PER_REQUEST' (on-demand)")
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        return hint(f"TTL is {ttl.get('TimeToLiveStatus', 'DISABLED')}: enable it with update_time_to_live")
    if ttl.get("AttributeName") != "expires_at":
        return hint(f"TTL reads the attribute {ttl.get('AttributeName')!r}; it should be expires_at")
    return passed(f"{table}: key session_id, on-demand, TTL on expires_at")


@exercise(2, "before a risky change", looks_for="DB instance labkit-09-shop-<suffix>")
def backups_ready(db_id: str, snapshot_id: str, retention_days: int = 30) -> Result:
    """The instance keeps automated backups for ``retention_days`` and has an available manual snapshot."""
    rds = boto3.client("rds")
    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return hint(f"no DB instance {db_id!r}: run the RDS cells above first")
    retention = db.get("BackupRetentionPeriod")
    pending = db.get("PendingModifiedValues", {}).get("BackupRetentionPeriod")
    if retention != retention_days and pending != retention_days:
        return hint(
            f"automated backups are kept {retention} day(s): modify_db_instance(BackupRetentionPeriod={retention_days})"
        )
    try:
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
    except rds.exceptions.DBSnapshotNotFoundFault:
        return hint(f"no snapshot named {snapshot_id!r}: take one with create_db_snapshot")
    if snap["DBInstanceIdentifier"] != db_id:
        return hint(f"{snapshot_id} is a snapshot of {snap['DBInstanceIdentifier']}, not of {db_id}")
    if snap.get("SnapshotType") != "manual":
        return hint(f"{snapshot_id} is a {snap.get('SnapshotType')} snapshot; take a manual one")
    if snap["Status"] != "available":
        return hint(f"{snapshot_id} is {snap['Status']}: wait until it is available")
    return passed(f"{db_id} keeps backups {retention_days} days; manual snapshot {snapshot_id} is available")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("09")


@session_table.finder
def _sessions_table(scan: Scan) -> list[Candidate]:
    named = [t for t in scan.tables() if suffix_of("labkit-09-sessions-{s}", t)]
    demo = ("labkit-09-sessions-{s}", "labkit-09-orders-{s}")
    tagged = [t for t in scan.tables() if not any(suffix_of(p, t) for p in demo) and scan.table_lesson(t) == LESSON.tag]
    return candidates(named + tagged)


@backups_ready.finder
def _backups(scan: Scan) -> list[Candidate]:
    rds = scan.client("rds")
    instances = newest(scan.pages("rds", "describe_db_instances", "DBInstances"), "InstanceCreateTime")
    attempts = []
    for db in (
        i["DBInstanceIdentifier"] for i in instances if suffix_of("labkit-09-shop-{s}", i["DBInstanceIdentifier"])
    ):
        snapshots = [
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots(DBInstanceIdentifier=db, SnapshotType="manual")["DBSnapshots"]
            if s["DBSnapshotIdentifier"] != f"{db}-before-migration"  # the lesson's own snapshot
        ]
        wanted = f"{db}-pre-upgrade"  # the name the lesson asks for first, then any other manual snapshot
        for snapshot in [wanted, *(s for s in snapshots if s != wanted)]:
            attempts.append(Candidate(db, (db, snapshot), {"retention_days": 30}))
    return attempts
