"""Lesson 12's files and helpers: the template passes cfn-lint (with and without exercise 1's alarm), the
consumer's store() is idempotent and refuses stale events, the FIFO failure rule, and the order accounting."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest
from cfnlint.api import ManualArgs, lint

from labkit.lessons.l12_capstone import load_template, order_callbacks, orders_report, poison_callback
from labkit.lessons.l12_capstone.pipeline import code_package, event_timeline

ROOT = Path(__file__).resolve().parents[2]
CAPSTONE = ROOT / "notebooks" / "capstone"
NOTEBOOK = ROOT / "notebooks" / "12-capstone.ipynb"


def _exercise_cells() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if "exercise" in c.get("metadata", {}).get("tags", [])]


def _assigned(source: str, name: str):
    """The literal value the cell assigns to ``name`` (the solution)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no {name} = ... in the exercise cell")


def _lint(text: str) -> list[str]:
    return [f"{m.rule.id} {m.message}" for m in lint(text, config=ManualArgs(regions=["us-east-1"]))]


def test_the_template_passes_cfn_lint():
    assert _lint((CAPSTONE / "template.yaml").read_text()) == []


def test_the_template_with_exercise_1s_alarm_passes_cfn_lint():
    template = load_template(CAPSTONE / "template.yaml")
    template["Resources"]["OrdersDeadLetterAlarm"] = _assigned(_exercise_cells()[0], "dlq_alarm")
    assert _lint(json.dumps(template)) == []


def test_cfn_lint_would_catch_a_mistake():
    template = load_template(CAPSTONE / "template.yaml")
    template["Resources"]["ConsumerMapping"]["Properties"]["BatchSiz"] = 10
    assert any("BatchSiz" in found for found in _lint(json.dumps(template)))


def test_load_template_reads_cloudformations_short_forms():
    template = load_template(CAPSTONE / "template.yaml")
    consumer = template["Resources"]["Consumer"]["Properties"]
    assert consumer["Role"] == {"Fn::GetAtt": ["ConsumerRole", "Arn"]}
    assert consumer["Code"]["S3Key"] == {"Ref": "CodeKey"}
    assert consumer["FunctionName"] == {"Fn::Sub": "labkit-12-consumer-${Suffix}"}


def test_load_template_refuses_what_is_not_a_template(tmp_path):
    (tmp_path / "t.yaml").write_text("just: text\n")
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(tmp_path / "t.yaml")


def test_store_py_is_exercise_2s_solution():
    assert _assigned(_exercise_cells()[1], "store_code") == (CAPSTONE / "store.py").read_text()


def test_a_code_package_is_named_after_its_content(tmp_path):
    (tmp_path / "orders.py").write_text("x = 1\n")
    first = code_package(tmp_path / "orders.py")
    assert code_package(tmp_path / "orders.py") == first  # same content, same key: nothing to redeploy
    (tmp_path / "orders.py").write_text("x = 2\n")
    assert code_package(tmp_path / "orders.py")[1] != first[1]


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, CAPSTONE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(seq: int, status: str) -> dict:
    return {"order_id": "o-1", "customer": "c-1", "seq": seq, "status": status}


def test_store_applies_each_event_once_and_never_an_older_one(moto_env):
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
    )
    store = _module("store").store
    applied = [
        store(dynamodb, "orders", _event(s, st))
        for s, st in [(1, "created"), (2, "paid"), (2, "paid"), (1, "created"), (3, "shipped")]
    ]
    assert applied == [True, True, False, False, True]
    item = dynamodb.get_item(TableName="orders", Key={"order_id": {"S": "o-1"}})["Item"]
    assert [int(s["N"]) for s in item["history"]["L"]] == [1, 2, 3] and item["order_status"]["S"] == "shipped"
    assert item["applied"]["N"] == "3"


def test_the_consumer_fails_a_poison_record_and_the_rest_of_its_group(moto_env, monkeypatch):
    monkeypatch.setenv("TABLE", "orders")
    monkeypatch.setenv("BUCKET", "receipts")
    boto3.client("s3").create_bucket(Bucket="receipts")
    boto3.client("dynamodb").create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
    )
    monkeypatch.syspath_prepend(str(CAPSTONE))
    sys.modules.pop("store", None)
    orders = _module("orders")
    other = {"order_id": "o-2", "customer": "c-2", "seq": 1, "status": "created"}
    sent = [  # (group, body)
        ("c-1", json.dumps(_event(1, "created"))),
        ("c-1", '{"order_id": "x", "seq": "one"}'),
        ("c-2", json.dumps(other)),
        ("c-1", json.dumps(_event(2, "paid"))),
    ]
    records = [
        {"messageId": f"m{n}", "body": body, "attributes": {"MessageGroupId": group}}
        for n, (group, body) in enumerate(sent)
    ]
    answer = orders.handler({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    keys = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="receipts")["Contents"])
    assert keys == ["receipts/c-1/o-1-1.json", "receipts/c-2/o-2-1.json"]  # c-1's later event waits its turn


def test_orders_report_accounts_for_every_event():
    callbacks = order_callbacks("r", customers=1, orders_per_customer=2)
    poison = poison_callback("r")
    sent = [{**c.event, "body": c.body} for c in [*callbacks, poison]]
    items = [
        {"order_id": {"S": "r-c000-o00"}, "history": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}},
        {"order_id": {"S": "r-c000-o01"}, "history": {"L": [{"N": "1"}, {"N": "1"}]}},
    ]
    report = orders_report(sent, items, [poison.body], in_queue=1, send_calls=len(sent) + 2)
    assert (report.distinct, report.deduplicated, report.processed, report.processed_twice) == (7, 2, 4, 1)
    assert report.in_queues == {"the DLQ": 1, "the orders queue": 1}
    assert len(report.missing) == 1  # seq 3 of the second order: in neither the table, the DLQ nor the queue
    assert "lost 1" in str(report)


def test_event_timeline_is_oldest_first_from_the_first_event():
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [
        {"Timestamp": t0 + timedelta(seconds=2), "LogicalResourceId": "Q", "ResourceType": "AWS::SQS::Queue",
         "ResourceStatus": "CREATE_COMPLETE"},
        {"Timestamp": t0, "LogicalResourceId": "Q", "ResourceType": "AWS::SQS::Queue",
         "ResourceStatus": "CREATE_IN_PROGRESS", "ResourceStatusReason": "Resource creation Initiated"},
    ]  # fmt: skip
    timeline = event_timeline(events)
    assert [(e.seconds, e.status) for e in timeline] == [(0.0, "CREATE_IN_PROGRESS"), (2.0, "CREATE_COMPLETE")]
    assert event_timeline(events, since=t0 + timedelta(seconds=1))[0].status == "CREATE_COMPLETE"
