"""Checks for 05-dead-letter-queues. They read queue attributes and look into queues without consuming."""

from __future__ import annotations

import json
import re

import boto3

from labkit.aws.sqs import depth, peek_all, queue_arn
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, suffix_of


def _url(sqs, name: str | None, variable: str):
    if not name or "..." in name:
        return None, hint(f"set {variable} to the name of the queue you created")
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"], None
    except sqs.exceptions.QueueDoesNotExist:
        return None, hint(f"there is no queue named {name!r} yet: create it with sqs.create_queue(QueueName=...)")


def _urls(sqs, queue_name: str | None, dlq_name: str | None):
    """(queue URL, DLQ URL, None), or a hint about whichever of the two is missing (the DLQ first)."""
    dlq_url, problem = _url(sqs, dlq_name, "my_dlq")
    if problem is None:
        url, problem = _url(sqs, queue_name, "my_queue")
        if problem is None:
            return url, dlq_url, None
    return None, None, problem


@exercise(1, "a FIFO queue with its DLQ", looks_for="queue labkit-05-<suffix>-my-queue.fifo/-my-dlq.fifo or a pair")
def redrive_policy(
    queue_name: str | None, dlq_name: str | None, max_receive_count: int = 2, fifo: bool = True
) -> Result:
    """``queue_name`` (FIFO when ``fifo``) moves a message to ``dlq_name`` after ``max_receive_count`` receives."""
    sqs = boto3.client("sqs")
    url, dlq_url, problem = _urls(sqs, queue_name, dlq_name)
    if problem is not None:
        return problem
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"]).get("Attributes", {})
    is_fifo, dlq_is_fifo = attrs.get("FifoQueue") == "true", dlq_attrs.get("FifoQueue") == "true"
    if fifo and not is_fifo:
        return hint(
            f"{queue_name!r} is a standard queue: this exercise asks for a FIFO queue "
            "(a name ending in .fifo and Attributes={'FifoQueue': 'true', ...})"
        )
    if is_fifo != dlq_is_fifo:
        kind = "FIFO" if is_fifo else "standard"
        return hint(f"{dlq_name!r} is not a {kind} queue: a {kind} queue's dead-letter queue must be {kind} too")
    if "RedrivePolicy" not in attrs:
        return hint(
            "the queue has no RedrivePolicy: create it with Attributes={'RedrivePolicy': json.dumps("
            f"{{'deadLetterTargetArn': <the DLQ's QueueArn>, 'maxReceiveCount': '{max_receive_count}'}})}}"
        )
    policy = json.loads(attrs["RedrivePolicy"])
    if policy.get("deadLetterTargetArn") != queue_arn(sqs, dlq_url):
        return hint(
            f"the RedrivePolicy points at {policy.get('deadLetterTargetArn', '?').rsplit(':', 1)[-1]!r}, "
            f"not at {dlq_name!r}: use the DLQ's QueueArn (get_queue_attributes(..., AttributeNames=['QueueArn']))"
        )
    if int(policy.get("maxReceiveCount", 0)) != max_receive_count:
        return hint(f"maxReceiveCount is {policy.get('maxReceiveCount')}; this exercise asks for {max_receive_count}")
    pair = "FIFO queue sends a message to its FIFO DLQ" if is_fifo else "queue sends a message to its DLQ"
    return passed(f"the {pair} after {max_receive_count} receives")


@exercise(2, "poison it", looks_for="queue labkit-05-<suffix>-my-queue.fifo/-my-dlq.fifo or a tagged pair")
def poison_in_dlq(queue_name: str | None, dlq_name: str | None, body: str = "poison") -> Result:
    """The message ``body`` has left ``queue_name`` and sits in ``dlq_name``."""
    sqs = boto3.client("sqs")
    url, dlq_url, problem = _urls(sqs, queue_name, dlq_name)
    if problem is not None:
        return problem
    in_dlq = [m for m in peek_all(sqs, dlq_url) if m["Body"] == body]
    if in_dlq:
        source = in_dlq[0].get("Attributes", {}).get("DeadLetterQueueSourceArn")
        if source and source != queue_arn(sqs, url):
            return hint(f"a {body!r} message is in the DLQ, but it came from {source.rsplit(':', 1)[-1]!r}")
        return passed(f"the {body!r} message left the queue and is in the DLQ")
    visible, in_flight = depth(sqs, url)
    if visible + in_flight == 0:
        return hint(f"neither queue holds a {body!r} message: send one to the queue (and do not delete it)")
    return hint(
        f"{body!r} is still in the queue: receive it again without deleting it, waiting out the visibility "
        "timeout each time, until a receive comes back empty (that receive moves it to the DLQ)"
    )


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("05")
# Queues the lesson's demos create (after ``labkit-05-<suffix>-``): never a learner's attempt.
DEMO_QUEUES = ("count-zero", "mixed.fifo", "no-dlq", "oncall-inbox", "orders", "orders-dlq")
# The names the exercises ask for (after ``labkit-05-<suffix>-``), FIFO first; an earlier version used standard queues.
EXERCISE_QUEUES = (("my-queue.fifo", "my-dlq.fifo"), ("my-queue", "my-dlq"))


def _dlq_pairs(scan: Scan) -> list[tuple[str, str]]:
    """(queue, DLQ) name pairs for lesson 05's exercises: the lesson's names, then tagged queues with a DLQ."""
    pairs = []
    for queue_part, dlq_part in EXERCISE_QUEUES:
        prefixes = {
            f"labkit-05-{s}"
            for n in scan.queues()
            for s in (suffix_of(f"labkit-05-{{s}}-{queue_part}", n), suffix_of(f"labkit-05-{{s}}-{dlq_part}", n))
            if s
        }
        for prefix in sorted(prefixes):
            queue, dlq = f"{prefix}-{queue_part}", f"{prefix}-{dlq_part}"
            if queue in scan.queues():
                dlq = _redrive_target(scan, queue) or dlq
            pairs.append((queue, dlq))
    exercise_names = [name for pair in EXERCISE_QUEUES for name in pair]
    for name in scan.learner_queues("05", (*DEMO_QUEUES, *exercise_names)):
        target = _redrive_target(scan, name)
        if target:
            pairs.append((name, target))
    return pairs


def _redrive_target(scan: Scan, queue: str) -> str | None:
    policy = scan.queue_attributes(queue).get("RedrivePolicy")
    if not policy:
        return None
    match = re.search(r'"deadLetterTargetArn"\s*:\s*"([^"]+)"', policy)
    return match.group(1).rsplit(":", 1)[-1] if match else None


@redrive_policy.finder
def _redrive(scan: Scan) -> list[Candidate]:
    return [Candidate(q, (q, d), {"max_receive_count": 2}) for q, d in _dlq_pairs(scan)]


@poison_in_dlq.finder
def _poison(scan: Scan) -> list[Candidate]:
    return [Candidate(q, (q, d)) for q, d in _dlq_pairs(scan)]
