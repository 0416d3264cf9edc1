"""SQS helpers the lessons share: a queue's name, ARN and depth; looking at messages without consuming them.

Everything takes a boto3 SQS client, so it works the same on every backend and in unit tests with moto.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import boto3


def queue_arn(sqs, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_name(queue_url: str) -> str:
    """The name at the end of a queue URL (print this rather than the URL, which carries the account id)."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def depth(sqs, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) as SQS reports them: ApproximateNumberOfMessages and ...NotVisible."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def peek_all(sqs, queue_url: str, *, hold: int = 5, limit: int = 1000) -> list[dict]:
    """Every message now visible in the queue, left in the queue.

    Receives until the queue answers empty (each message hidden for ``hold`` seconds so none is
    seen twice), then makes them all visible again at once. Use it to look, not to consume.
    In-flight messages are not seen; in a FIFO queue, a group shows at most the 10 messages one
    receive returns (the rest of the group stays locked until those are released).
    """
    seen: list[dict] = []
    try:
        while len(seen) < limit:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            seen.extend(batch)
    finally:
        release(sqs, queue_url, seen)
    return seen


def release(sqs, queue_url: str, messages: Iterable[dict]) -> None:
    """Make received messages visible again now (visibility timeout 0), in batches of 10."""
    messages = list(messages)
    for i in range(0, len(messages), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages[i : i + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def drain_bodies(queue_url: str, *, client: Any | None = None, timeout: float = 30.0) -> list[str]:
    """Receive and delete every message in a queue (e.g. a DLQ you are inspecting); return their bodies.

    Stops when a receive comes back empty and the queue reports no messages left, or after ``timeout`` seconds.
    """
    sqs = client if client is not None else boto3.client("sqs")
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            if queue_depth(queue_url, client=sqs) == 0:
                break
            continue
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
    return bodies


def queue_depth(queue_url: str, *, client: Any | None = None) -> int:
    """Messages in a queue, visible or in flight (ApproximateNumberOfMessages + …NotVisible)."""
    return sum(depth(client if client is not None else boto3.client("sqs"), queue_url))
