"""Lambda behaviours lessons 03 and 08 rely on, asserted with plain boto3 on the running backend.

A backend that cannot run Lambda code (LocalStack without Docker puts functions in state Failed;
moto without Docker cannot invoke) is skipped with the reason the probe found.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import time

import boto3
import botocore.exceptions
import pytest

from labkit.aws.lambdas import delete_mapping, log_events, log_records, wait_active, zip_source
from labkit.aws.sqs import drain_bodies, queue_depth
from labkit.aws.waits import wait_until
from labkit.errors import FunctionNotRunnable
from labkit.lessons.l08_sqs_triggers_lambda.batches import account, wait_for_messages
from labkit.widgets.timeline import Timeline

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
MANAGED = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
)

PROBE = "def handler(event, context):\n    return {'sum': sum(event['numbers'])}\n"

TOOLBOX = """
import json, os, time

def handler(event, context):
    if "Records" in event:
        records = event["Records"]
        start = time.time()
        time.sleep(float(os.environ.get("WORK_SECONDS", "0.2")))
        failed = [r["messageId"] for r in records if r["body"].startswith("poison")]
        print("BATCH " + json.dumps({
            "request_id": context.aws_request_id, "start": start, "end": time.time(),
            "queue": records[0]["eventSourceARN"].split(":")[-1],
            "messages": [{"body": r["body"], "failed": r["messageId"] in failed,
                          "receive_count": int(r["attributes"]["ApproximateReceiveCount"])} for r in records],
        }))
        if failed and os.environ.get("ON_FAILURE") == "raise":
            raise RuntimeError("batch failed")
        return {"batchItemFailures": [{"itemIdentifier": f} for f in failed]}
    print("token " + event.get("token", ""))
    if event.get("fail"):
        raise ValueError("failing on purpose")
    time.sleep(float(event.get("sleep", 0)))
    return {"echo": event.get("token"), "remaining_ms": context.get_remaining_time_in_millis()}
"""


@pytest.fixture(scope="module")
def role(lab):
    iam = boto3.client("iam")
    name = f"labkit-parity-lambda-{int(time.time() * 1000) % 10**8}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))["Role"]["Arn"]
    for policy in MANAGED:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if not lab.is_emulator:
        time.sleep(10)  # a new role takes seconds to become assumable by Lambda
    yield arn
    for policy in MANAGED:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy)
    iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def make_function(role):
    """Create functions that are deleted (with their log groups) after the module."""
    awslambda, logs = boto3.client("lambda"), boto3.client("logs")
    made: list[str] = []

    def make(name: str, code: str = TOOLBOX, timeout: int = 3, env: dict | None = None) -> str:
        awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": zip_source(code)},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )
        made.append(name)
        wait_active(name, quiet=True)
        return name

    yield make
    for name in made:
        for call, kwargs in (
            (awslambda.delete_function, {"FunctionName": name}),
            (logs.delete_log_group, {"logGroupName": f"/aws/lambda/{name}"}),
        ):
            with contextlib.suppress(botocore.exceptions.ClientError):
                call(**kwargs)


@pytest.fixture(scope="module")
def runnable(make_function):
    """Probe: can this backend run a handler at all? Skip every test here with the reason if not."""
    name = f"labkit-parity-probe-{int(time.time() * 1000) % 10**8}"
    try:
        make_function(name, code=PROBE)
        response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"numbers": [1, 2, 3]}))
        payload = json.loads(response["Payload"].read())
    except FunctionNotRunnable as err:
        pytest.skip(f"this backend cannot run Lambda code: {err}")
    except botocore.exceptions.ClientError as err:
        pytest.skip(f"this backend cannot run Lambda code: {err.response['Error']['Code']}: {err}")
    if response.get("FunctionError") or payload != {"sum": 6}:
        pytest.skip(f"this backend cannot run Lambda code: invoke returned {payload!r}")
    return True


@pytest.fixture
def queues(lab, unique):
    sqs = boto3.client("sqs")
    made: list[str] = []

    def make(name: str, **attributes) -> tuple[str, str]:
        fifo = ".fifo" if attributes.get("FifoQueue") == "true" else ""
        url = sqs.create_queue(QueueName=f"labkit-parity-{name}-{unique}{fifo}", Attributes=attributes)["QueueUrl"]
        made.append(url)
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    yield make
    for url in made:
        sqs.delete_queue(QueueUrl=url)


def invoke(name: str, event: dict, **kwargs) -> tuple[dict, object]:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def records_from(name: str, queue_name: str) -> list[dict]:
    return [r for r in log_records(name, "BATCH") if r.get("queue") == queue_name]


# --- invoke -------------------------------------------------------------------------------------------


def test_invoke_runs_the_code(runnable, make_function, unique):
    name = make_function(f"labkit-parity-run-{unique}", code=PROBE)
    response, payload = invoke(name, {"numbers": [40, 2]})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload == {"sum": 42}


def test_async_invoke_returns_202_and_runs_later(runnable, make_function, unique):
    name = make_function(f"labkit-parity-async-{unique}")
    response, payload = invoke(name, {"token": f"async-{unique}"}, InvocationType="Event")
    assert response["StatusCode"] == 202 and payload is None
    found = wait_until(
        lambda: [e for e in log_events(name) if f"token async-{unique}" in e["message"]],
        timeout=90,
        desc="async log line",
    )
    assert len(found) == 1


def test_print_reaches_cloudwatch_logs_and_the_tail(runnable, make_function, unique):
    name = make_function(f"labkit-parity-logs-{unique}")
    response, _ = invoke(name, {"token": f"tail-{unique}"}, LogType="Tail")
    assert f"token tail-{unique}" in base64.b64decode(response["LogResult"]).decode()
    logs = boto3.client("logs")
    events = wait_until(
        lambda: logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=f'"tail-{unique}"')["events"],
        timeout=90,
        desc="log line in CloudWatch Logs",
    )
    assert any(f"token tail-{unique}" in e["message"] for e in events)


def test_an_exception_comes_back_as_function_error(runnable, make_function, unique):
    name = make_function(f"labkit-parity-error-{unique}")
    response, payload = invoke(name, {"fail": True})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "failing on purpose" and payload["errorType"]


def test_timeout_is_enforced(runnable, make_function, unique):
    name = make_function(f"labkit-parity-timeout-{unique}", timeout=1)
    started = time.monotonic()
    response, payload = invoke(name, {"sleep": 4})
    elapsed = time.monotonic() - started
    assert response.get("FunctionError") and "timed out" in payload["errorMessage"].lower()
    assert elapsed < 3.5, f"a 1 s timeout let the handler run {elapsed:.1f} s"


def test_configuration_update_applies_without_redeploy(runnable, make_function, unique):
    code = "import os\n\ndef handler(event, context):\n    return os.environ['X']\n"
    name = make_function(f"labkit-parity-config-{unique}", code=code, env={"X": "before"})
    boto3.client("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": {"X": "after"}})
    wait_active(name, quiet=True)
    assert invoke(name, {})[1] == "after"


# --- SQS event source mappings ------------------------------------------------------------------------


def send(url: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs")
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        )


def run_batches(name: str, url: str, arn: str, *, messages: int, batch_size: int, max_concurrency: int) -> Timeline:
    """Send ``messages`` messages, map the queue to the function with these settings, wait until all were handled."""
    bodies = [f"m{unique_id()}-{i:03d}" for i in range(messages)]
    since_ms = int(time.time() * 1000) - 5_000
    send(url, bodies)
    mapping = boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=batch_size,
        ScalingConfig={"MaximumConcurrency": max_concurrency},
    )
    try:
        rows = wait_for_messages(name, bodies, since_ms=since_ms, timeout=120, progress=False)
    finally:
        delete_mapping(mapping["UUID"])
    return Timeline(rows, batch_size=batch_size, max_concurrency=max_concurrency, sent=messages)


def unique_id() -> str:
    return f"{time.time_ns() % 10**9:09d}"


def test_batch_size_and_max_concurrency_are_respected(runnable, make_function, queues, unique):
    name = make_function(f"labkit-parity-esm-{unique}", env={"WORK_SECONDS": "0.4"})
    url, arn = queues("esm", VisibilityTimeout="30")
    timeline = run_batches(name, url, arn, messages=24, batch_size=3, max_concurrency=2)
    assert timeline.distinct_messages == {m for inv in timeline.invocations for m in inv.messages}
    assert timeline.message_count == 24, "every message handled exactly once"
    assert max(timeline.batch_sizes) <= 3
    assert timeline.peak_concurrency <= 2
    assert queue_depth(url) == 0


def test_each_batch_is_one_invocation(runnable, make_function, queues, unique):
    name = make_function(f"labkit-parity-one-{unique}", env={"WORK_SECONDS": "0.1"})
    url, arn = queues("one", VisibilityTimeout="30")
    timeline = run_batches(name, url, arn, messages=10, batch_size=5, max_concurrency=2)
    request_ids = [inv.request_id for inv in timeline.invocations]
    assert len(set(request_ids)) == len(request_ids) and timeline.message_count == 10


def _failure_run(make_function, queues, unique, *, report: bool):
    tag = "report" if report else "raise"
    name = make_function(f"labkit-parity-{tag}-{unique}", env={"WORK_SECONDS": "0.1", "ON_FAILURE": tag})
    dlq_url, dlq_arn = queues(f"{tag}-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queues(tag, VisibilityTimeout="3", RedrivePolicy=redrive)
    bodies = [f"poison-{i}" if i == 1 else f"ok-{i}" for i in range(4)]
    invoke(
        name, {"token": "warm"}
    )  # a cold start longer than the 3 s visibility timeout would hand the batch out twice
    send(url, bodies)
    awslambda = boto3.client("lambda")
    mapping = awslambda.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=4,
        FunctionResponseTypes=["ReportBatchItemFailures"] if report else [],
    )
    try:
        wait_until(lambda: queue_depth(url) == 0, timeout=120, interval=0.5, desc=f"{tag} drained")
    finally:
        delete_mapping(mapping["UUID"])
    in_dlq = drain_bodies(dlq_url)
    return bodies, records_from(name, url.rsplit("/", 1)[-1]), in_dlq


def test_partial_batch_failure_returns_only_the_failed_message(runnable, make_function, queues, unique):
    bodies, records, in_dlq = _failure_run(make_function, queues, unique, report=True)
    assert in_dlq == ["poison-1"]
    result = account(bodies, records, in_dlq, report_failures=True)
    assert result.all_accounted, result.table()
    assert result.counts == {"handled": 3, "in the DLQ": 1}
    handled = {row["body"]: row["attempts"] for row in result.rows}
    assert handled["poison-1"] == 2 and all(handled[b] == 1 for b in bodies if b.startswith("ok"))


def test_without_report_the_whole_batch_is_retried(runnable, make_function, queues, unique):
    bodies, records, in_dlq = _failure_run(make_function, queues, unique, report=False)
    result = account(bodies, records, in_dlq, report_failures=False)
    assert result.all_accounted, result.table()
    assert "poison-1" in in_dlq
    # every message that shared a batch with the poison message was handled again
    shared = {m["body"] for r in records if any(m["failed"] for m in r["messages"]) for m in r["messages"]}
    assert shared > {"poison-1"}
    assert all(row["attempts"] >= 2 for row in result.rows if row["body"] in shared)


def _fifo_run(name: str, url: str, arn: str, groups: tuple[str, ...], **mapping_args) -> tuple[list[str], list[dict]]:
    """Send 4 messages per group, map the queue to the function, wait until all were handled: (sent, batches)."""
    sqs = boto3.client("sqs")
    sent = []
    for step in range(4):
        for group in groups:
            sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{step}", MessageGroupId=group)
            sent.append(f"{group}-{step}")
    mapping = boto3.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **mapping_args)
    queue_name = url.rsplit("/", 1)[-1]
    try:
        batches = wait_until(
            lambda: (
                (found := records_from(name, queue_name))
                and sum(len(r["messages"]) for r in found) >= len(sent)
                and found
            ),
            timeout=120,
            desc="fifo handled",
        )
    finally:
        delete_mapping(mapping["UUID"])
    return sent, batches


def test_a_second_mapping_of_one_queue_to_one_function_is_refused(runnable, make_function, queues, unique):
    """Lambda keeps one mapping per queue and function: a second is ResourceConflictException naming the first."""
    awslambda = boto3.client("lambda")
    name = make_function(f"labkit-parity-twice-{unique}")
    _, arn = queues("twice")
    _, other_arn = queues("twice-other")
    first = awslambda.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1, Enabled=False)
    made = [first["UUID"]]
    try:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            made.append(awslambda.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"])
        assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert first["UUID"] in refused.value.response["Error"]["Message"]
        # the nearest valid call: another queue to the same function
        made.append(awslambda.create_event_source_mapping(EventSourceArn=other_arn, FunctionName=name)["UUID"])
    finally:
        for uuid in made:
            with contextlib.suppress(botocore.exceptions.ClientError):
                awslambda.delete_event_source_mapping(UUID=uuid)


def test_fifo_source_keeps_order_per_group(runnable, make_function, queues, unique):
    name = make_function(f"labkit-parity-fifo-{unique}", env={"WORK_SECONDS": "0.05"})
    url, arn = queues("fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sent, batches = _fifo_run(name, url, arn, ("a", "b"), BatchSize=3)
    handled = [m["body"] for r in sorted(batches, key=lambda r: r["start"]) for m in r["messages"]]
    for group in ("a", "b"):
        assert [b for b in handled if b.startswith(group)] == [b for b in sent if b.startswith(group)]


def test_a_fifo_source_runs_message_groups_in_parallel_and_each_in_order(runnable, make_function, queues, unique):
    """AWS scales a FIFO source across message groups, up to MaximumConcurrency; never two batches of one group."""
    name = make_function(f"labkit-parity-fifo-par-{unique}", env={"WORK_SECONDS": "0.4"})
    url, arn = queues("fifopar", FifoQueue="true", ContentBasedDeduplication="true", VisibilityTimeout="30")
    groups = ("a", "b", "c", "d")
    sent, batches = _fifo_run(name, url, arn, groups, BatchSize=2, ScalingConfig={"MaximumConcurrency": 3})
    handled = [m["body"] for r in sorted(batches, key=lambda r: r["start"]) for m in r["messages"]]
    assert sorted(handled) == sorted(sent), "every message once"
    for group in groups:
        assert [b for b in handled if b.startswith(group)] == [b for b in sent if b.startswith(group)]
        spans = sorted(
            (r["start"], r["end"]) for r in batches if any(m["body"].startswith(group) for m in r["messages"])
        )
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), f"group {group} overlapped"
    peak = max(sum(1 for o in batches if o["start"] <= r["start"] < o["end"]) for r in batches)
    assert 2 <= peak <= 3, f"peak concurrency {peak}"
