"""Dead-letter queue redrive (lessons 05 and 12), with plain boto3: StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask.

AWS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
The embedded backend has them (``labkit/backends/embedded/sqs_move_tasks.py``); a backend without them is skipped
with its answer, never the embedded one.
"""

from __future__ import annotations

import contextlib
import json
import time

import boto3
import botocore.exceptions
import pytest


@pytest.fixture
def sqs(lab):
    return boto3.client("sqs")


@pytest.fixture
def queues(sqs, unique):
    """``queues(fifo)`` → (source URL, DLQ URL), the source sending a message to the DLQ on its first failed receive."""
    made: list[str] = []

    def make(fifo: bool = False, name: str = "redrive") -> tuple[str, str]:
        tail, extra = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
        dlq = sqs.create_queue(QueueName=f"parity-{name}-dlq-{unique}{tail}", Attributes=extra)["QueueUrl"]
        made.append(dlq)
        policy = {"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": "1"}
        attributes = {**extra, "VisibilityTimeout": "1", "RedrivePolicy": json.dumps(policy)}
        source = sqs.create_queue(QueueName=f"parity-{name}-{unique}{tail}", Attributes=attributes)["QueueUrl"]
        made.append(source)
        return source, dlq

    yield make
    for url in made:
        with contextlib.suppress(botocore.exceptions.ClientError):
            sqs.delete_queue(QueueUrl=url)


def _arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _depth(sqs, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def _to_dlq(sqs, source: str, dlq: str, count: int, fifo: bool = False) -> list[str]:
    """Send ``count`` messages, fail each once (received, never deleted), and wait until all are in the DLQ."""
    bodies = [f"order-{n}" for n in range(count)]
    for n, body in enumerate(bodies):
        fifo_args = {"MessageGroupId": "customer-1", "MessageDeduplicationId": f"d{n}"} if fifo else {}
        sqs.send_message(QueueUrl=source, MessageBody=body, **fifo_args)
    deadline = time.monotonic() + 30
    while _depth(sqs, dlq) < count and time.monotonic() < deadline:
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        time.sleep(1.1)  # past the 1 s visibility timeout: the next receive moves them to the DLQ
    assert _depth(sqs, dlq) == count
    return bodies


def _start(lab, sqs, **args) -> str:
    try:
        return sqs.start_message_move_task(**args)["TaskHandle"]
    except botocore.exceptions.ClientError as err:
        if lab.backend in ("embedded", "aws") or err.response["Error"]["Code"] not in (
            "InvalidAction",
            "UnknownOperation",
        ):
            raise
        pytest.skip(f"this backend has no StartMessageMoveTask ({err.response['Error']['Code']})")


def _as_on_aws(lab, holds: bool, what: str) -> None:
    """Fail where AWS's behaviour does not hold on the embedded backend or AWS; elsewhere skip, saying how."""
    if holds:
        return
    if lab.backend in ("embedded", "aws"):
        pytest.fail(what)
    raise pytest.skip.Exception(f"{lab.backend} differs from AWS: {what}", _use_item_location=True)


def _finished(sqs, dlq: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (task,) = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
        if task["Status"] not in ("RUNNING", "CANCELLING"):
            return task
        time.sleep(0.5)
    raise TimeoutError(f"the move task on {dlq} did not finish in {timeout} s")


def _receive_all(sqs, url: str, count: int) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + 20
    while len(got) < count and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        got += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_redrive_moves_every_message_back_to_its_source_as_a_new_message(lab, sqs, queues):
    source, dlq = queues()
    bodies = _to_dlq(sqs, source, dlq, 3)
    in_dlq_ids = {
        m["MessageId"]
        for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    }
    _start(lab, sqs, SourceArn=_arn(sqs, dlq))  # no DestinationArn: each message goes back where it came from
    task = _finished(sqs, dlq)
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"], task["ApproximateNumberOfMessagesToMove"]) == (
        "COMPLETED",
        3,
        3,
    )
    assert "TaskHandle" not in task  # only a running task has one
    back = _receive_all(sqs, source, 3)
    assert sorted(m["Body"] for m in back) == bodies
    counts = [m["Attributes"]["ApproximateReceiveCount"] for m in back]
    _as_on_aws(lab, counts == ["1"] * 3, f"a redriven message is a new one, first received once; here {counts}")
    assert not {m["MessageId"] for m in back} & in_dlq_ids  # with a new MessageId
    assert _depth(sqs, dlq) == 0


def test_a_fifo_redrive_keeps_the_group_and_order_and_is_not_deduplicated(lab, sqs, queues):
    source, dlq = queues(fifo=True, name="fredrive")
    bodies = _to_dlq(sqs, source, dlq, 3, fifo=True)  # within 5 minutes of the first sends, same dedup ids
    _start(lab, sqs, SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, source))
    assert _finished(sqs, dlq)["ApproximateNumberOfMessagesMoved"] == 3
    back = _receive_all(sqs, source, 3)
    # LocalStack 4.14 keeps the deduplication ids, so the FIFO queue drops the moved messages as duplicates
    _as_on_aws(lab, len(back) == 3, f"a FIFO redrive within 5 minutes arrives; {len(back)} of 3 came back")
    assert [m["Body"] for m in back] == bodies
    assert {m["Attributes"]["MessageGroupId"] for m in back} == {"customer-1"}


def test_a_slow_redrive_can_be_cancelled_and_keeps_what_it_moved(lab, sqs, queues):
    source, dlq = queues(name="cancel")
    _to_dlq(sqs, source, dlq, 6)
    handle = _start(lab, sqs, SourceArn=_arn(sqs, dlq), MaxNumberOfMessagesPerSecond=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:  # one running task per source queue
        sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    time.sleep(2.5)
    sqs.cancel_message_move_task(TaskHandle=handle)
    task = _finished(sqs, dlq)
    assert task["Status"] == "CANCELLED"
    moved = task["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < 6
    assert _depth(sqs, source) + _depth(sqs, dlq) == 6  # nothing lost, nothing doubled
    assert _depth(sqs, dlq) == 6 - moved


def test_redrive_refuses_a_queue_that_is_no_dead_letter_queue_and_a_mixed_pair(lab, sqs, queues):
    source, dlq = queues(name="refuse")
    fifo_source, _ = queues(fifo=True, name="refusef")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.start_message_move_task(SourceArn=_arn(sqs, source))  # the source queue is nobody's DLQ
    if lab.backend not in ("embedded", "aws") and err.value.response["Error"]["Code"] == "InvalidAction":
        pytest.skip("this backend has no StartMessageMoveTask")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    try:  # a standard DLQ → a FIFO destination: AWS redrives only between queues of one type
        sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, fifo_source))
        refused = ""
    except botocore.exceptions.ClientError as mixed:
        refused = mixed.response["Error"]["Code"]
    _as_on_aws(
        lab, refused == "InvalidParameterValue", f"a FIFO destination for a standard DLQ is refused; got {refused!r}"
    )
