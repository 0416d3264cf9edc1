"""labkit.aws.lambdas, lesson 08's batches and the lessons' handlers, in-process (moto, stubs for states moto lacks)."""

from __future__ import annotations

import importlib.util
import io
import json
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from labkit.aws.lambdas import log_events, log_records, parse_records, wait_active, zip_handler, zip_source
from labkit.aws.sqs import drain_bodies, queue_depth
from labkit.aws.waits import wait_until
from labkit.course.checks import Result
from labkit.errors import FunctionNotRunnable
from labkit.lessons.l08_sqs_triggers_lambda.batches import account, account_orders, wait_for_messages
from labkit.widgets.timeline import invocations_from_records

HANDLERS = Path(__file__).resolve().parents[2] / "notebooks" / "lambdas"


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def load_handler(name: str):
    spec = importlib.util.spec_from_file_location(f"handler_{name}", HANDLERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context(request_id: str = "req-1"):
    return SimpleNamespace(aws_request_id=request_id, get_remaining_time_in_millis=lambda: 3000)


# --- packaging -------------------------------------------------------------------------------


def test_zip_handler_puts_the_file_at_the_root_under_its_own_name():
    package = zip_handler(HANDLERS / "hello.py")
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.namelist() == ["hello.py"]
        assert archive.read("hello.py").decode() == (HANDLERS / "hello.py").read_text()
        assert (archive.getinfo("hello.py").external_attr >> 16) & 0o444 == 0o444


def test_zip_source_is_reproducible():
    assert zip_source("x = 1\n") == zip_source("x = 1\n")
    with zipfile.ZipFile(io.BytesIO(zip_source("x = 1\n", "shout.py"))) as archive:
        assert archive.namelist() == ["shout.py"]


def test_zip_handler_says_which_file_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        zip_handler(tmp_path / "nope.py")


# --- waiting for a function ------------------------------------------------------------------


class StubLambda:
    """get_function_configuration answers from a script of states, one per call (the last repeats)."""

    def __init__(self, *states):
        self.states = list(states)
        self.calls = 0

    def get_function_configuration(self, FunctionName):
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        return {"FunctionName": FunctionName, **state}


def test_wait_active_returns_once_active_and_updated(capsys):
    stub = StubLambda(
        {"State": "Pending", "LastUpdateStatus": "InProgress"},
        {"State": "Active", "LastUpdateStatus": "InProgress"},
        {"State": "Active", "LastUpdateStatus": "Successful", "Timeout": 3},
    )
    config = wait_active("f", client=stub)
    assert config["Timeout"] == 3 and stub.calls == 3
    assert "f: Active after" in capsys.readouterr().out


def test_wait_active_explains_a_failed_function_in_one_line(monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "localstack")
    stub = StubLambda(
        {"State": "Failed", "StateReasonCode": "InternalError", "StateReason": "Error while creating lambda: Docker"}
    )
    with pytest.raises(FunctionNotRunnable) as caught:
        wait_active("f", client=stub)
    message = str(caught.value)
    assert "\n" not in message
    assert "state Failed (InternalError" in message and "Docker" in message and "docker.sock" in message


def test_wait_active_failed_elsewhere_has_no_docker_advice(monkeypatch):
    monkeypatch.delenv("LABKIT_BACKEND", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    stub = StubLambda({"State": "Failed", "StateReasonCode": "InvalidZipFileException"})
    with pytest.raises(FunctionNotRunnable, match="InvalidZipFileException") as caught:
        wait_active("f", client=stub)
    assert "docker" not in str(caught.value).lower()


def test_wait_active_gives_up_after_its_timeout():
    stub = StubLambda({"State": "Pending", "LastUpdateStatus": "InProgress"})
    with pytest.raises(FunctionNotRunnable, match="still Pending/InProgress"):
        wait_active("f", client=stub, timeout=0.3, quiet=True)


def test_wait_until_returns_the_first_truthy_value_and_times_out():
    values = iter([None, 0, "found"])
    assert wait_until(lambda: next(values), timeout=5, interval=0.01) == "found"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: None, timeout=0.2, interval=0.05, desc="never")
    assert time.monotonic() - started < 2


# --- reading what handlers recorded ----------------------------------------------------------


def test_parse_records_keeps_only_marked_json_lines():
    messages = [
        "START RequestId: 1",
        'BATCH {"a": 1}\n',
        "BATCH not json",
        'BATCHY {"b": 2}',
        'noise\nBATCH {"c": 3}',
    ]
    assert parse_records(messages, "BATCH") == [{"a": 1}, {"c": 3}]


def put_function_log(*messages: str) -> None:
    """The lines a function named ``recorder`` printed, in CloudWatch Logs, one millisecond apart."""
    logs = boto3.client("logs")
    group = "/aws/lambda/recorder"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": message} for i, message in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)


def test_log_records_reads_every_page_in_order(aws):
    put_function_log(*(f"BATCH {json.dumps({'n': i})}" for i in range(120)))
    assert [r["n"] for r in log_records("recorder", "BATCH")] == list(range(120))
    assert log_events("never-ran") == []


def test_wait_for_messages_says_how_many_were_handled_and_how_many_invocations_timed_out(aws):
    handled = {"request_id": "a", "start": 1.0, "end": 1.3, "messages": [{"body": "m-1"}]}
    put_function_log("BATCH " + json.dumps(handled), "2026-12-02T18:00:00Z b Task timed out after 1.00 seconds")
    with pytest.raises(TimeoutError, match=r"not all seen after 0 s \(1 of 2 handled; 1 invocations timed out"):
        wait_for_messages("recorder", ["m-1", "m-2"], timeout=0.3, progress=False)
    assert [row.messages for row in wait_for_messages("recorder", ["m-1"], timeout=5, progress=False)] == [("m-1",)]


def test_invocations_from_records_filters_by_run_and_keeps_failures():
    records = [
        {"request_id": "b", "start": 2.0, "end": 2.5, "messages": [{"body": "r1-002", "failed": True}]},
        {
            "request_id": "a",
            "start": 1.0,
            "end": 1.4,
            "messages": [{"body": "r1-000", "receive_count": 2}, {"body": "other-1"}],
        },
        {"request_id": "c", "start": 0.5, "end": 0.6, "messages": [{"body": "other-2"}]},
    ]
    rows = invocations_from_records(records, run="r1")
    assert [r.request_id for r in rows] == ["a", "b"]
    assert rows[0].messages == ("r1-000",) and rows[0].receive_counts == (2,)
    assert rows[1].failed == ("r1-002",)


# --- accounting for every message ------------------------------------------------------------


def batch(*messages):
    return {"messages": [{"body": b, "failed": "poison" in b} for b in messages]}


def test_account_with_partial_batch_responses():
    sent = ["a", "poison", "b", "c"]
    records = [batch("a", "poison"), batch("b", "c"), batch("poison")]
    result = account(sent, records, ["poison"], report_failures=True)
    assert result.all_accounted and result.lost == 0
    assert result.counts == {"handled": 3, "in the DLQ": 1}
    assert result.handled_twice_or_more == ["poison"] and result.came_back_unfailed == []
    assert result.summary() == (
        "✓ every message accounted for: 4 sent = 3 handled + 1 in the DLQ + 0 left in the queue, 0 lost; "
        "only failed messages came back"
    )


def test_account_without_partial_responses_fails_the_whole_batch():
    sent = ["a", "poison", "b"]
    records = [batch("a", "poison"), batch("b"), batch("a", "poison")]
    result = account(sent, records, ["a", "poison"], report_failures=False)
    assert result.all_accounted
    rows = {row["body"]: row for row in result.rows}
    assert rows["a"]["attempts"] == 2 and rows["a"]["successes"] == 0 and rows["a"]["outcome"] == "in the DLQ"
    assert rows["b"]["outcome"] == "handled"
    assert result.came_back_unfailed == ["a"]
    assert result.summary().endswith("; 1 came back although they had not failed")


def test_account_counts_what_is_left_and_what_is_lost():
    # a: handled twice; b never reached the function; poison failed and was deleted anyway
    records = [batch("a"), batch("a"), batch("poison")]
    result = account(["a", "b", "poison"], records, [], report_failures=True)
    assert not result.all_accounted and result.lost == 2
    assert {row["body"]: row["outcome"] for row in result.rows} == {
        "a": "handled",
        "b": "never seen",
        "poison": "lost (failed, deleted, not in the DLQ)",
    }
    assert result.summary().startswith("✗ NOT every message accounted for: 3 sent = 1 handled + 0 in the DLQ")
    assert "a " in result.table() and "handled" in result.table()
    waiting = account(["a", "b", "poison"], records, [], report_failures=True, left=2)
    assert waiting.all_accounted and waiting.counts["not handled yet"] == 2
    assert "+ 2 left in the queue, 0 lost" in waiting.summary()


def test_account_orders_reads_the_order_lines():
    records = [
        {"body": "o1", "ok": True},
        {"body": "bad", "ok": False},
        {"body": "bad", "ok": False},
        {"body": "o2", "ok": True},
    ]
    result = account_orders(["o1", "o2", "bad"], records, ["bad"])
    assert result.counts == {"handled": 2, "in the DLQ": 1} and result.came_back_unfailed == []
    twice = account_orders(["o1", "bad"], [{"body": "o1", "ok": True}] * 2 + records[1:3], ["bad"])
    assert twice.came_back_unfailed == ["o1"]


def test_drain_bodies_and_queue_depth(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    for i in range(13):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    assert queue_depth(url) == 13
    assert sorted(drain_bodies(url)) == sorted(f"m{i}" for i in range(13))
    assert queue_depth(url) == 0


# --- the lessons' handlers, called directly --------------------------------------------------


def test_hello_handler_counts_cold_and_warm_and_reads_its_environment(monkeypatch):
    monkeypatch.setenv("GREETING", "Bonjour")
    hello = load_handler("hello")
    first = hello.handler({"name": "Ada"}, context("r1"))
    second = hello.handler({}, context("r2"))
    assert first == {"message": "Bonjour, Ada!", "cold_start": True, "request_id": "r1"}
    assert second["cold_start"] is False and second["message"] == "Bonjour, world!"
    with pytest.raises(ValueError, match="asked to fail"):
        hello.handler({"fail": True}, context())


def sqs_event(*bodies):
    return {
        "Records": [
            {
                "body": body,
                "messageId": f"id-{body}",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:work",
                "attributes": {"ApproximateReceiveCount": "1"},
            }
            for body in bodies
        ]
    }


def test_batch_recorder_records_the_batch_and_raises_for_poison(monkeypatch, capsys):
    monkeypatch.setenv("WORK_SECONDS", "0")
    recorder = load_handler("batch_recorder")
    assert recorder.handler(sqs_event("ok-1", "ok-2"), context()) == {}
    with pytest.raises(RuntimeError, match="1 of 2"):
        recorder.handler(sqs_event("ok-1", "poison-2"), context())
    first, second = parse_records(capsys.readouterr().out.splitlines(), "BATCH")
    assert first["queue"] == "work" and [m["failed"] for m in first["messages"]] == [False, False]
    assert [m["failed"] for m in second["messages"]] == [False, True] and second["start"] <= second["end"]


def test_orders_process_logs_every_attempt_and_refuses_bad_orders(capsys):
    orders = load_handler("orders")
    good, bad_json, zero, text = sqs_event('{"order": "A-1", "quantity": 2}', "no json", '{"quantity": 0}', '"x"')[
        "Records"
    ]
    assert orders.process(good) == {"order": "A-1", "quantity": 2}
    for record in (bad_json, zero, text):
        with pytest.raises(ValueError, match="bad order"):
            orders.process(record)
    lines = parse_records(capsys.readouterr().out.splitlines(), "ORDER")
    assert [line["ok"] for line in lines] == [True, False, False, False]
    assert lines[0] == {
        "body": good["body"],
        "message_id": "id-" + good["body"],
        "queue": "work",
        "receive_count": 1,
        "ok": True,
    }


def test_on_upload_writes_a_receipt_outside_uploads(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="uploads-bucket")
    s3.put_object(Bucket="uploads-bucket", Key="uploads/a+poem.txt", Body=b"one two three")
    on_upload = load_handler("on_upload")
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "uploads-bucket"}, "object": {"key": "uploads/a%2Bpoem.txt"}},
            }
        ]
    }
    assert on_upload.handler(event, context()) == {"processed": 1}
    receipt = json.loads(s3.get_object(Bucket="uploads-bucket", Key="receipts/a+poem.txt.json")["Body"].read())
    assert receipt == {"source": "uploads/a+poem.txt", "words": 3, "event": "ObjectCreated:Put"}


# --- the exercise checks never raise ---------------------------------------------------------


def test_checks_give_hints_not_exceptions(aws, capsys, monkeypatch):
    from labkit.lessons.l03_lambda import checks as lambda_checks
    from labkit.lessons.l08_sqs_triggers_lambda import checks as mapping_checks

    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)  # the test session makes hints fail cells

    results = [
        lambda_checks.shouts(None),
        lambda_checks.shouts("no-such-function"),
        lambda_checks.configured("no-such-function"),
        mapping_checks.reports_failures(None),
        mapping_checks.partial_batch_mapping("http://127.0.0.1:1/000000000000/none", "f"),
    ]
    assert all(isinstance(r, Result) and not r for r in results)
    out = capsys.readouterr().out
    assert out.count("✗ not yet:") == 5 and "no-such-function" in out


def test_lesson_08_finders_find_the_worker_and_each_orders_queue_not_its_dlq(aws):
    from labkit.course.scan import Scan
    from labkit.lessons.l08_sqs_triggers_lambda.checks import _partial_batch_mapping, _reports_failures

    sqs = boto3.client("sqs")
    for name in ("labkit-08-0123abcd-orders-1", "labkit-08-0123abcd-orders-1-dlq", "labkit-08-work-0123abcd"):
        sqs.create_queue(QueueName=name)
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in ("labkit-08-worker-0123abcd", "labkit-08-recorder-0123abcd"):
        boto3.client("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": zip_source("")}
        )
    scan = Scan()
    assert [(c.label, c.args) for c in _reports_failures(scan)] == [
        ("labkit-08-worker-0123abcd", ("labkit-08-worker-0123abcd",))
    ]
    [found] = _partial_batch_mapping(scan)
    assert found.label == "labkit-08-0123abcd-orders-1"
    assert found.args[0].endswith("/labkit-08-0123abcd-orders-1") and found.args[1] == "labkit-08-worker-0123abcd"
