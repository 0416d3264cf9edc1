"""Lesson 05's dead-letter helpers: a queue wired to its DLQ in one call, and the redrive where
``start_message_move_task`` is missing (receive → send → delete, said out loud).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from labkit.aws.sqs import queue_arn
from labkit.aws.tally import Tally


@dataclass(frozen=True)
class QueuePair:
    """A source queue and the dead-letter queue its RedrivePolicy points at."""

    name: str
    url: str
    arn: str
    dlq_name: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int

    def __str__(self) -> str:
        return f"{self.name} → after {self.max_receive_count} receives → {self.dlq_name}"


def create_queue_with_dlq(
    sqs,
    name: str,
    *,
    max_receive_count: int = 3,
    fifo: bool = False,
    attributes: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    dlq_name: str | None = None,
) -> QueuePair:
    """Create ``<name>-dlq`` and ``<name>`` with a RedrivePolicy to it: the two calls lesson 05 shows.

    A FIFO queue's DLQ must be FIFO too, so both get the ``.fifo`` suffix when ``fifo`` is set.
    """
    base = name[: -len(".fifo")] if name.endswith(".fifo") else name
    suffix = ".fifo" if fifo else ""
    dlq_name = dlq_name or f"{base}-dlq{suffix}"
    fifo_attrs = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes=fifo_attrs, tags=tags or {})["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    attrs = {**fifo_attrs, **(attributes or {}), "RedrivePolicy": json.dumps(redrive)}
    url = sqs.create_queue(QueueName=f"{base}{suffix}", Attributes=attrs, tags=tags or {})["QueueUrl"]
    return QueuePair(f"{base}{suffix}", url, queue_arn(sqs, url), dlq_name, dlq_url, dlq_arn, max_receive_count)


def move_messages(
    sqs, source_url: str, destination_url: str, *, tally: Tally | None = None, limit: int = 10_000
) -> int:
    """Move every visible message from one queue to another: receive → send → delete.

    This is what labkit does where ``start_message_move_task`` is missing. Body and message
    attributes are copied; for a FIFO destination the group is kept and the old MessageId is
    used as the deduplication id. The moved message gets a new MessageId (recorded in
    ``tally`` if given). Returns how many were moved.
    """
    fifo = destination_url.endswith(".fifo")
    moved = 0
    while moved < limit:
        batch = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["MessageGroupId"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return moved
        for m in batch:
            kwargs: dict = {"QueueUrl": destination_url, "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                kwargs["MessageAttributes"] = m["MessageAttributes"]
            if fifo:
                kwargs["MessageGroupId"] = m.get("Attributes", {}).get("MessageGroupId", "redrive")
                kwargs["MessageDeduplicationId"] = m["MessageId"]
            new_id = sqs.send_message(**kwargs)["MessageId"]
            if tally is not None:
                tally.moved(m["MessageId"], new_id)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def wait_for_move_task(sqs, source_arn: str, *, timeout: float = 120.0) -> dict:
    """Poll ``list_message_move_tasks`` until the newest task leaves RUNNING; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        if tasks and tasks[0].get("Status") != "RUNNING":
            return tasks[0]
        if time.monotonic() > deadline:
            return tasks[0] if tasks else {}
        time.sleep(1)
