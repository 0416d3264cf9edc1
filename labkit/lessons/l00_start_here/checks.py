"""Checks for 00-start-here."""

from __future__ import annotations

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates


@exercise(1, "your first queue", looks_for="queue my-first-queue-<suffix> or tagged 00-start-here")
def first_queue(queue_name: str | None) -> Result:
    """The learner's queue exists and holds a message whose body is 'hello'."""
    if not queue_name or "..." in queue_name:
        return hint("set queue_name to the name of the queue you created")
    sqs = boto3.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return hint(f"there is no queue named {queue_name!r}: create it with sqs.create_queue(QueueName=...)")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    if int(attrs["ApproximateNumberOfMessages"]) == 0:
        return hint(
            f"{queue_name} is empty: send it a message with sqs.send_message(QueueUrl=..., MessageBody='hello')"
        )
    # Look without consuming: a zero visibility timeout leaves the message visible for the learner.
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    if not any(m["Body"] == "hello" for m in messages):
        bodies = ", ".join(repr(m["Body"]) for m in messages[:3]) or "nothing visible right now"
        return hint(f"no message with body 'hello' yet (saw {bodies})")
    return passed(f"{queue_name} exists and holds your 'hello'")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("00")


@first_queue.finder
def _first_queue(scan: Scan) -> list[Candidate]:
    return candidates(scan.queues_matching("my-first-queue-{s}") + scan.learner_queues("00"))
