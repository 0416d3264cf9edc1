"""Checks for 04-sqs-standard-vs-fifo. They look at the queues on the backend without consuming messages."""

from __future__ import annotations

import boto3

from labkit.aws.sqs import peek_all
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates, suffix_of


def _find(sqs, queue_name: str | None, what: str):
    if not queue_name or "..." in queue_name:
        return None, hint(f"set {what} to the name of the queue you created")
    try:
        return sqs.get_queue_url(QueueName=queue_name)["QueueUrl"], None
    except sqs.exceptions.QueueDoesNotExist:
        return None, hint(f"there is no queue named {queue_name!r} yet: create it with sqs.create_queue(QueueName=...)")


@exercise(1, "steps in order, sent twice", looks_for="queue labkit-04-<suffix>-steps.fifo or a tagged FIFO queue")
def steps_in_order(queue_name: str | None) -> Result:
    """A FIFO queue with content-based deduplication holding exactly step-1, step-2, step-3, in that order."""
    sqs = boto3.client("sqs")
    url, problem = _find(sqs, queue_name, "steps_queue")
    if problem is not None:
        return problem
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    if attrs.get("FifoQueue") != "true":
        return hint(
            "this is a standard queue: create it with Attributes={'FifoQueue': 'true'} and a name ending in .fifo"
        )
    if attrs.get("ContentBasedDeduplication") != "true":
        return hint("turn on content-based deduplication: Attributes={..., 'ContentBasedDeduplication': 'true'}")
    bodies = [m["Body"] for m in peek_all(sqs, url)]
    want = ["step-1", "step-2", "step-3"]
    if not bodies:
        return hint("the queue is empty: send step-1, step-2, step-2 again, then step-3, all with MessageGroupId='ex'")
    if bodies.count("step-2") > 1:
        return hint("step-2 is in the queue twice: send the retry with the same body, so deduplication drops it")
    if sorted(bodies) != want:
        return hint(f"expected exactly {want}, found {bodies}")
    if bodies != want:
        return hint(f"the messages are in the order {bodies}: send them in order, in one message group")
    return passed("FIFO queue holds step-1, step-2, step-3 in order; the retried step-2 was deduplicated")


@exercise(2, "a backlog in batches", looks_for="queue labkit-04-<suffix>-jobs or a tagged standard queue")
def batched_jobs(queue_name: str | None, expected: int = 25) -> Result:
    """A queue holding job-0 ... job-<expected-1>, each exactly once."""
    sqs = boto3.client("sqs")
    url, problem = _find(sqs, queue_name, "jobs_queue")
    if problem is not None:
        return problem
    bodies = [m["Body"] for m in peek_all(sqs, url)]
    want = {f"job-{i}" for i in range(expected)}
    if not bodies:
        return hint("the queue is empty: send the jobs with sqs.send_message_batch(QueueUrl=..., Entries=[...])")
    if len(bodies) == 10 and expected > 10:
        return hint("only 10 messages arrived: a batch holds at most 10 entries, so send them in chunks of 10")
    if len(bodies) != len(set(bodies)):
        return hint("some jobs are in the queue more than once: send each job once")
    missing = sorted(want - set(bodies), key=lambda b: int(b.split("-")[1]))
    if missing:
        return hint(f"{len(missing)} job(s) missing, e.g. {', '.join(missing[:3])}")
    extra = set(bodies) - want
    if extra:
        return hint(f"unexpected messages in the queue: {', '.join(sorted(extra)[:3])}")
    return passed(f"all {expected} jobs are in the queue, each exactly once")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("04")
# Queues the lesson's demos create (after ``labkit-04-<suffix>-``): never a learner's attempt.
DEMO_QUEUES = (
    "bench",
    "bench.fifo",
    "charges",
    "lanes.fifo",
    "orders",
    "orders.fifo",
    "payments.fifo",
    "receipts.fifo",
    "standard",
)


@steps_in_order.finder
def _steps_queue(scan: Scan) -> list[Candidate]:
    learner = [n for n in scan.learner_queues("04", DEMO_QUEUES) if n.endswith(".fifo")]
    return candidates(
        scan.queues_matching("labkit-04-{s}-steps.fifo") + scan.queues_matching("labkit-04-{s}-steps") + learner
    )


@batched_jobs.finder
def _jobs_queue(scan: Scan) -> list[Candidate]:
    learner = [
        n
        for n in scan.learner_queues("04", DEMO_QUEUES)
        if not n.endswith(".fifo") and not suffix_of("labkit-04-{s}-steps", n)
    ]
    return candidates(scan.queues_matching("labkit-04-{s}-jobs") + learner, expected=25)
