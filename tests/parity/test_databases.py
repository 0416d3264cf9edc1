"""Parity: the RDS and DynamoDB behaviours lesson 09 relies on."""

from __future__ import annotations

import contextlib
import secrets
import time

import boto3
import botocore.exceptions
import psycopg
import pytest


@pytest.fixture
def rds():
    client = boto3.client("rds")
    try:
        client.describe_db_instances()
    except botocore.exceptions.ClientError as err:
        pytest.skip(f"this backend does not serve RDS: {err.response['Error']['Code']}")
    return client


def _wait(describe, wanted, timeout=1800):
    deadline = time.monotonic() + timeout
    while (status := describe()) != wanted and time.monotonic() < deadline:
        time.sleep(2)
    return status


# What both instances in this file are made with (the lesson's database, smallest size).
POSTGRES = {
    "Engine": "postgres",
    "DBInstanceClass": "db.t4g.micro",
    "AllocatedStorage": 20,
    "MasterUsername": "parity",
    "ManageMasterUserPassword": True,
}


@pytest.fixture
def db(rds, lab, unique):
    db_id = f"labkit-parity-{unique}"
    rds.create_db_instance(
        DBInstanceIdentifier=db_id,
        **POSTGRES,
        BackupRetentionPeriod=7,
        Tags=lab.tags,
    )
    status = _wait(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["DBInstanceStatus"], "available"
    )
    assert status == "available"
    yield db_id
    rds.delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)


def test_rds_instance_reports_its_managed_settings(rds, db, lab):
    got = rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
    assert got["Engine"] == "postgres"
    assert got["DBInstanceClass"] == "db.t4g.micro"
    assert got["AllocatedStorage"] == 20
    assert got["BackupRetentionPeriod"] == 7
    # AWS listens on PostgreSQL's port everywhere; the embedded backend gives each instance's engine a port of its
    # own on 127.0.0.1 (many instances share one machine). The lesson reads the port from the endpoint either way.
    assert got["Endpoint"]["Port"] == 5432 if lab.backend != "embedded" else got["Endpoint"]["Port"] > 1024
    assert "MasterUserPassword" not in got


def test_rds_backup_settings_are_modified(rds, db):
    rds.modify_db_instance(
        DBInstanceIdentifier=db, BackupRetentionPeriod=14, PreferredBackupWindow="03:00-03:30", ApplyImmediately=True
    )
    got = rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
    assert got["BackupRetentionPeriod"] in (14, got.get("PendingModifiedValues", {}).get("BackupRetentionPeriod"))
    assert got["PreferredBackupWindow"] == "03:00-03:30"


def test_rds_backup_window_at_create(rds, lab, unique):
    db_id = f"labkit-parity-window-{unique}"
    made = rds.create_db_instance(
        DBInstanceIdentifier=db_id,
        **POSTGRES,
        PreferredBackupWindow="05:10-05:40",
        Tags=lab.tags,
    )["DBInstance"]
    try:
        if made["PreferredBackupWindow"] != "05:10-05:40":
            pytest.skip(f"this backend ignores the backup window at create (reports {made['PreferredBackupWindow']})")
        assert made["PreferredBackupWindow"] == "05:10-05:40"
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)


def test_rds_manual_snapshot(rds, db, lab):
    snap = f"{db}-snap"
    rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=snap, Tags=lab.tags)
    try:
        describe = lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Status"]  # noqa: E731
        assert _wait(describe, "available") == "available"
        got = rds.describe_db_snapshots(DBInstanceIdentifier=db)["DBSnapshots"]
        assert [(s["DBSnapshotIdentifier"], s["SnapshotType"]) for s in got] == [(snap, "manual")]
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snap)


# --- the database itself: a PostgreSQL client at the endpoint ----------------------------------------------------


def _status(rds, db_id):
    return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["DBInstanceStatus"]


def _connect(rds, db_id, password, lab):
    """A psycopg connection to the instance's endpoint, with its master user and database."""
    got = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    endpoint = got["Endpoint"]
    try:
        return psycopg.connect(
            host=endpoint["Address"],
            port=endpoint["Port"],
            user=got["MasterUsername"],
            password=password,
            dbname=got.get("DBName") or "postgres",
            connect_timeout=10,
        )
    except psycopg.OperationalError as err:
        if lab.backend == "embedded":
            raise  # the embedded backend promises a real engine at the endpoint
        pytest.skip(f"no route from here to the instance's endpoint on {lab.backend}: {err}")


@pytest.fixture
def sql_db(rds, lab, unique):
    """A postgres instance made with its own password and database; (id, password)."""
    db_id, password = f"labkit-parity-sql-{unique}", secrets.token_urlsafe(16)
    rds.create_db_instance(
        DBInstanceIdentifier=db_id,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="parity",
        MasterUserPassword=password,
        DBName="shop",
        Tags=lab.tags,
    )
    made = [db_id]
    assert _wait(lambda: _status(rds, db_id), "available") == "available"
    yield db_id, password, made
    for each in made:
        with contextlib.suppress(rds.exceptions.DBInstanceNotFoundFault):
            rds.delete_db_instance(DBInstanceIdentifier=each, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)


@pytest.mark.parametrize(
    "bad", [{"DBName": "shop-db"}, {"DBName": "9shop"}, {"MasterUsername": "rdsadmin"}], ids=lambda b: str(b)
)
def test_rds_refuses_names_postgres_cannot_take(rds, lab, unique, bad):
    names = {"MasterUsername": "parity", "DBName": "shop", **bad}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        rds.create_db_instance(
            DBInstanceIdentifier=f"labkit-parity-bad-{unique}",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUserPassword=secrets.token_urlsafe(16),
            Tags=lab.tags,
            **names,
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_rds_endpoint_accepts_sql_with_the_master_user(rds, sql_db, lab):
    db_id, password, _ = sql_db
    with _connect(rds, db_id, password, lab) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("parity", "shop")
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total int)")
        conn.execute("INSERT INTO customers VALUES (1, 'ada'), (2, 'bo')")
        conn.execute("INSERT INTO orders VALUES (10, 1, 25), (11, 1, 5), (12, 2, 7)")
        conn.commit()
        joined = conn.execute(
            "SELECT c.name, sum(o.total) FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.name ORDER BY 1"
        ).fetchall()
        assert joined == [("ada", 30), ("bo", 7)]
        with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
            conn.execute("INSERT INTO orders VALUES (13, 2, 1)")
            conn.execute("INSERT INTO orders VALUES (14, 99, 1)")  # no customer 99: the whole transaction goes
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_rds_refuses_a_wrong_password(rds, sql_db, lab):
    db_id, _, _ = sql_db
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(rds, db_id, "not-the-password", lab).close()


def test_rds_new_master_password_logs_in_and_the_old_one_no_longer(rds, sql_db, lab):
    db_id, password, _ = sql_db
    new_password = secrets.token_urlsafe(16)
    rds.modify_db_instance(DBInstanceIdentifier=db_id, MasterUserPassword=new_password, ApplyImmediately=True)
    deadline = time.monotonic() + (600 if lab.backend == "aws" else 10)
    while True:  # AWS applies it in the background (status resetting-master-credentials)
        try:
            _connect(rds, db_id, new_password, lab).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(rds, db_id, password, lab).close()


def test_rds_snapshot_restores_into_a_new_instance_with_the_data(rds, sql_db, lab, unique):
    db_id, password, made = sql_db
    with _connect(rds, db_id, password, lab) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept SELECT generate_series(1, 100)")
    snap = f"{db_id}-snap"
    rds.create_db_snapshot(DBInstanceIdentifier=db_id, DBSnapshotIdentifier=snap, Tags=lab.tags)
    try:
        describe = lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Status"]  # noqa: E731
        assert _wait(describe, "available") == "available"
        with _connect(rds, db_id, password, lab) as conn:
            conn.execute("DROP TABLE kept")  # the mistake the snapshot undoes
        restored = f"{db_id}-restored"
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=restored, DBSnapshotIdentifier=snap, DBInstanceClass="db.t4g.micro", Tags=lab.tags
        )
        made.append(restored)
        assert _wait(lambda: _status(rds, restored), "available") == "available"
        old, new = (rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0] for i in (db_id, restored))
        assert (old["Endpoint"]["Address"], old["Endpoint"]["Port"]) != (
            new["Endpoint"]["Address"],
            new["Endpoint"]["Port"],
        )
        assert new["MasterUsername"] == "parity"
        with _connect(rds, restored, password, lab) as conn:  # the source's master password, as AWS restores it
            assert conn.execute("SELECT count(*), sum(n) FROM kept").fetchone() == (100, 5050)
        with _connect(rds, db_id, password, lab) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snap)


def test_rds_delete_stops_the_engine_and_a_final_snapshot_keeps_the_data(rds, sql_db, lab):
    db_id, password, made = sql_db
    with _connect(rds, db_id, password, lab) as conn:
        conn.execute("CREATE TABLE last_words (w text)")
        conn.execute("INSERT INTO last_words VALUES ('goodbye')")
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["Endpoint"]
    final = f"{db_id}-final"
    rds.delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=False, FinalDBSnapshotIdentifier=final)
    try:
        rds.get_waiter("db_instance_deleted").wait(
            DBInstanceIdentifier=db_id,
            WaiterConfig={"Delay": 2 if lab.backend == "embedded" else 30, "MaxAttempts": 60},
        )
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host=endpoint["Address"], port=endpoint["Port"], user="parity", password=password, connect_timeout=5
            ).close()
        restored = f"{db_id}-back"
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=restored, DBSnapshotIdentifier=final)
        made.append(restored)
        assert _wait(lambda: _status(rds, restored), "available") == "available"
        with _connect(rds, restored, password, lab) as conn:
            assert conn.execute("SELECT w FROM last_words").fetchall() == [("goodbye",)]
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier=final)


def test_rds_stopped_instance_refuses_connections_until_started(rds, sql_db, lab):
    db_id, password, _ = sql_db
    with _connect(rds, db_id, password, lab) as conn:
        conn.execute("CREATE TABLE survives (n int)")
        conn.execute("INSERT INTO survives VALUES (42)")
    rds.stop_db_instance(DBInstanceIdentifier=db_id)
    assert _wait(lambda: _status(rds, db_id), "stopped") == "stopped"
    with pytest.raises(psycopg.OperationalError):
        _connect(rds, db_id, password, lab).close()
    rds.start_db_instance(DBInstanceIdentifier=db_id)
    assert _wait(lambda: _status(rds, db_id), "available") == "available"
    with _connect(rds, db_id, password, lab) as conn:
        assert conn.execute("SELECT n FROM survives").fetchone() == (42,)


@pytest.fixture
def orders(lab, unique, dynamodb_available):
    ddb = boto3.client("dynamodb")
    table = f"labkit-parity-orders-{unique}"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "customer", "AttributeType": "S"},
            {"AttributeName": "order_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "customer", "KeyType": "HASH"},
            {"AttributeName": "order_id", "KeyType": "RANGE"},
        ],
        Tags=lab.tags,
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    puts = [
        {
            "PutRequest": {
                "Item": {
                    "customer": {"S": f"c{c:02d}"},
                    "order_id": {"S": f"2026-{10 + d % 2:02d}-{d + 1:02d}"},
                    "status": {"S": "shipped" if d % 3 == 0 else "open"},
                }
            }
        }
        for c in range(10)
        for d in range(6)
    ]
    for i in range(0, len(puts), 25):
        pending = {table: puts[i : i + 25]}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
    yield ddb, table
    ddb.delete_table(TableName=table)


def test_on_demand_billing(orders):
    ddb, table = orders
    assert ddb.describe_table(TableName=table)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_query_reads_one_partition_and_scan_reads_all(orders):
    ddb, table = orders
    q = ddb.query(
        TableName=table, KeyConditionExpression="customer = :c", ExpressionAttributeValues={":c": {"S": "c03"}}
    )
    assert (q["ScannedCount"], q["Count"]) == (6, 6)
    q = ddb.query(
        TableName=table,
        KeyConditionExpression="customer = :c AND begins_with(order_id, :m)",
        ExpressionAttributeValues={":c": {"S": "c03"}, ":m": {"S": "2026-11"}},
    )
    assert (q["ScannedCount"], q["Count"]) == (3, 3)
    q = ddb.query(
        TableName=table,
        KeyConditionExpression="customer = :c",
        FilterExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "c03"}, ":s": {"S": "shipped"}},
    )
    assert (q["ScannedCount"], q["Count"]) == (6, 2)
    s = ddb.scan(TableName=table, FilterExpression="customer = :c", ExpressionAttributeValues={":c": {"S": "c03"}})
    assert (s["ScannedCount"], s["Count"]) == (60, 6)


def test_conditional_writes(orders):
    ddb, table = orders
    item = {"customer": {"S": "c99"}, "order_id": {"S": "x"}, "status": {"S": "open"}, "total": {"N": "25"}}
    ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(order_id)")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ddb.put_item(
            TableName=table,
            Item={**item, "total": {"N": "99"}},
            ConditionExpression="attribute_not_exists(order_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert err.value.response["Item"]["total"] == {"N": "25"}
    update = dict(
        TableName=table,
        Key={"customer": {"S": "c99"}, "order_id": {"S": "x"}},
        UpdateExpression="SET #s = :shipped",
        ConditionExpression="#s = :open",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":shipped": {"S": "shipped"}, ":open": {"S": "open"}},
    )
    ddb.update_item(**update)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(**update)


def test_ttl_setting_and_filtering_expired_items(orders):
    ddb, table = orders
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") and ttl["AttributeName"] == "expires_at"
    now = int(time.time())
    for name, expires in (("old", now - 60), ("new", now + 3600)):
        ddb.put_item(
            TableName=table,
            Item={"customer": {"S": "cart"}, "order_id": {"S": name}, "expires_at": {"N": str(expires)}},
        )
    live = ddb.query(
        TableName=table,
        KeyConditionExpression="customer = :c",
        FilterExpression="expires_at > :now",
        ExpressionAttributeValues={":c": {"S": "cart"}, ":now": {"N": str(now)}},
    )["Items"]
    assert [i["order_id"]["S"] for i in live] == ["new"]
