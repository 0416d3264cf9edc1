"""Checks for 04-sqs-standard-vs-fifo. They look at the queues on the backend without consuming messages;
exercise 2's check runs the learner's consumer (see ``trial``), which consumes the orders itself."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import boto3

from labkit.aws.sqs import peek_all
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates
from labkit.lessons.l04_sqs_standard_vs_fifo import trial


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


@exercise(
    2,
    "a FIFO consumer that keeps each group in order",
    notebook_only="process_batch is a function in your kernel; the check runs it on the queue the cell above filled",
)
def ordered_consumer(queue_name: str | None, process_batch: Callable[..., object]) -> Result:
    """Run the learner's ``process_batch(sqs, queue_url, handle)`` on the orders queue (see ``trial``):
    every order handled once, in its group's order, and deleted once, although some fail the first time."""
    if not callable(process_batch):
        return hint("process_batch should be a function: def process_batch(sqs, queue_url, handle): ...")
    try:
        inspect.signature(process_batch).bind(None, None, None)
    except (TypeError, ValueError):
        return hint("process_batch takes three arguments: def process_batch(sqs, queue_url, handle): ...")
    sqs = boto3.client("sqs")
    url, problem = _find(sqs, queue_name, "orders_queue")
    if problem is not None:
        return problem
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    if attrs.get("FifoQueue") != "true":
        return hint(f"{queue_name} is a standard queue: the orders go into a FIFO queue (run the cell that fills it)")
    waiting = peek_all(sqs, url)
    if not waiting:
        return hint(f"{queue_name} is empty: run this cell again, it fills a new queue with the orders first")
    if len(waiting) < int(attrs.get("ApproximateNumberOfMessages", 0)) or len(waiting) == 10:
        return hint(f"{queue_name} holds more orders than the check can look at (10): fill it with the cell above")
    groups, fail_once = trial.plan(waiting)
    run = trial.Trial(url, groups, fail_once, visibility=int(attrs.get("VisibilityTimeout", 30)))
    run.run(process_batch, sqs)
    return _verdict(run)


def _verdict(run: trial.Trial) -> Result:
    """✓ or the first thing to fix, most serious first."""
    if run.misuse:
        return hint(f"handle() was given a {run.misuse[0]}: give it the message's body, handle(m['Body'])")
    if run.errors:
        err = run.errors[0]
        if isinstance(err, KeyError) and err.args and err.args[0] in ("MessageGroupId", "Attributes"):
            return hint(
                f"a message had no {err.args[0]!r}: ask for it when you receive, "
                "sqs.receive_message(..., MessageSystemAttributeNames=['MessageGroupId'])"
            )
        return hint(f"process_batch raised {type(err).__name__}: {err}")
    if not run.receive_calls:
        if run.attempts:
            return hint("use the sqs client process_batch is given (its first argument): the check watches its calls")
        return hint("process_batch received nothing: call sqs.receive_message(QueueUrl=queue_url, ...)")
    if not run.attempts:
        return hint("handle() was never called: call handle(m['Body']) for each message you receive")
    early = run.deleted_too_soon()
    lost = [b for b in early if b not in run.handled()]
    if lost:
        return hint(
            f"{lost[0]} was deleted but never handled (handle() failed for it, or it was skipped): it is lost. "
            "Delete a message only after handle() returned for it"
        )
    if early:
        return hint(
            f"{early[0]} was deleted before handle({early[0]!r}) returned: had handle() failed, it would be lost. "
            "Delete a message only after handle() returned for it"
        )
    breaks = run.order_breaks()
    if breaks:
        due, instead, failed = breaks[0]
        if failed:
            return hint(
                f"{instead} was handled while {due} had failed and was not yet retried: after a failure, skip the "
                "rest of that message's group in this batch (leave them undeleted; they come back, in order)"
            )
        return hint(
            f"{instead} was handled before {due}: handle the messages in the order receive_message returns them"
        )
    if run.escaped:
        return hint(
            f"handle({run.escaped[0]!r}) raised and the error left process_batch: catch it (try/except), so the "
            "other groups' messages in the batch are still handled"
        )
    if run.largest_receive() < 2:
        return hint("receive up to 10 messages per call: sqs.receive_message(..., MaxNumberOfMessages=10)")
    if not run.deletions:
        return hint(
            "nothing was deleted, so every order comes back: after handle(m['Body']) returned, "
            "sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m['ReceiptHandle'])"
        )
    twice = [b for b, n in run.handled().items() if n > 1]
    if twice:
        return hint(f"{twice[0]} was handled twice: it came back because it was not deleted after it was handled")
    left = [b for b in run.left if b in run.handled()]
    if left:
        return hint(f"{len(left)} handled order(s) are still in the queue, e.g. {left[0]}: delete each after handling")
    missing = [b for b in run.bodies if b not in run.handled()]
    if missing:
        slow = run.longest_visibility()
        why = (
            f"your receive sets VisibilityTimeout={slow}, so a failed order comes back only after {slow} s"
            if slow > run.visibility
            else "the failed ones come back after the visibility timeout: keep calling receive_message each time"
        )
        return hint(f"{len(missing)} order(s) were never handled, e.g. {missing[0]}: {why}")
    if run.deleted_twice():
        return hint(f"{run.deleted_twice()[0]} was deleted twice: delete each message once")
    if run.stuck:
        return hint(
            "process_batch did not return: do one receive, handle that batch and return (the check calls it again)"
        )
    retried = " and ".join(sorted(run.fail_once)) or "no order"
    return passed(
        f"{len(run.bodies)} orders in {len(run.groups)} groups handled in group order and deleted once each; "
        f"{retried} failed the first time, and nothing after it in its group was handled before its retry"
    )


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


def _exercise_2_queue(name: str) -> bool:
    """The queues exercise 2's cell fills, one per run: ``labkit-04-<suffix>-orders-<4 hex>.fifo``."""
    return name.split("-", 3)[-1].startswith("orders-")


@steps_in_order.finder
def _steps_queue(scan: Scan) -> list[Candidate]:
    learner = [n for n in scan.learner_queues("04", DEMO_QUEUES) if n.endswith(".fifo") and not _exercise_2_queue(n)]
    return candidates(
        scan.queues_matching("labkit-04-{s}-steps.fifo") + scan.queues_matching("labkit-04-{s}-steps") + learner
    )
