"""Checks for 09-databases."""

from __future__ import annotations

from typing import Any

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, newest, suffix_of


@exercise(1, "newest first", notebook_only="the query's response lives in your kernel")
def newest_first(response: Any, table: str, customer: str = "customer-07", month: str = "2026-10") -> Result:
    """``response`` is one query's answer: ``customer``'s orders of ``month``, newest first, nothing else read."""
    if not isinstance(response, dict) or "Items" not in response:
        return hint("october_orders should be what dynamodb.query(...) returned (a dict with 'Items')")
    dynamodb = boto3.client("dynamodb")
    expected = [
        item["order_id"]["S"]
        for item in dynamodb.query(
            TableName=table,
            KeyConditionExpression="customer = :c AND begins_with(order_id, :month)",
            ExpressionAttributeValues={":c": {"S": customer}, ":month": {"S": month}},
            ScanIndexForward=False,
        )["Items"]
    ]
    got = [item.get("order_id", {}).get("S", "?") for item in response["Items"]]
    owners = {item.get("customer", {}).get("S") for item in response["Items"]}
    scanned = response.get("ScannedCount", len(got))
    if scanned > len(expected):
        return hint(
            f"the read looked at {scanned} items to return {len(got)}: put the month in the key condition "
            "(begins_with(order_id, :month)), not in a FilterExpression or a scan"
        )
    if owners - {customer} or sorted(got) != sorted(expected):
        return hint(
            f"the answer has {len(got)} orders of {sorted(o or '?' for o in owners)}; {customer} has "
            f"{len(expected)} in {month}: KeyConditionExpression customer = :c AND begins_with(order_id, :month)"
        )
    if got != expected:
        if got == expected[::-1]:
            return hint("the orders come oldest first: ScanIndexForward=False reads the sort key backwards")
        return hint("the orders are not in sort-key order: take them as the query returns them")
    return passed(f"{len(got)} orders of {customer} in {month}, newest first, reading only those {scanned} items")


@exercise(2, "a snapshot is only as good as its restore", looks_for="DB instance labkit-09-shop-<suffix>-restored")
def restored(db_id: str, snapshot_id: str, restored_id: str, instance_class: str = "db.t4g.micro") -> Result:
    """``restored_id`` is a new instance, made from ``snapshot_id`` (taken of ``db_id``), and available."""
    rds = boto3.client("rds")
    try:
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
    except rds.exceptions.DBSnapshotNotFoundFault:
        return hint(f"no snapshot named {snapshot_id!r}: run the RDS cells above first")
    if restored_id == db_id or restored_id == snapshot.get("DBInstanceIdentifier"):
        return hint(
            f"{restored_id} is the instance the snapshot was taken of: a restore makes a new instance, "
            "so give DBInstanceIdentifier a new name"
        )
    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=restored_id)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return hint(
            f"no DB instance named {restored_id!r}: restore_db_instance_from_db_snapshot("
            f"DBInstanceIdentifier={restored_id!r}, DBSnapshotIdentifier={snapshot_id!r}, ...)"
        )
    if db.get("Engine") != snapshot.get("Engine"):
        return hint(f"{restored_id} runs {db.get('Engine')}, not the snapshot's {snapshot.get('Engine')}")
    made, taken = db.get("InstanceCreateTime"), snapshot.get("SnapshotCreateTime")
    if made and taken and made < taken:
        return hint(f"{restored_id} is older than the snapshot, so it cannot be a restore of it")
    if db.get("DBInstanceClass") != instance_class:
        return hint(f"DBInstanceClass is {db.get('DBInstanceClass')}; restore with DBInstanceClass={instance_class!r}")
    if db.get("DBInstanceStatus") != "available":
        return hint(f"{restored_id} is {db.get('DBInstanceStatus')}: wait until it is available")
    return passed(f"{restored_id} is a new {instance_class} instance restored from {snapshot_id}, available")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("09")


@restored.finder
def _restored(scan: Scan) -> list[Candidate]:
    instances = newest(scan.pages("rds", "describe_db_instances", "DBInstances"), "InstanceCreateTime")
    attempts = []
    for db in instances:
        name = db["DBInstanceIdentifier"]
        suffix = suffix_of("labkit-09-shop-{s}-restored", name)
        if suffix:
            source = f"labkit-09-shop-{suffix}"
            attempts.append(Candidate(name, (source, f"{source}-before-migration", name)))
    return attempts
