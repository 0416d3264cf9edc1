"""Lesson 04, exercise 2: ``checks.ordered_consumer`` runs the learner's ``process_batch`` on a real FIFO queue.

The solution passes; each typical mistake gets its own hint (no delete, delete before handling, going on
with a group after a failure, not asking for MessageGroupId, one message per receive, ...). The trial
runs on the embedded servers: in-process moto redelivers a FIFO group's messages out of order after a
visibility timeout (moto 5.2: B-1..B-4 received, B-1 deleted, only B-4 comes back), which is exactly what
this check must not be fooled by.
"""

from __future__ import annotations

import os
import time
import uuid

import boto3
import pytest

import labkit
from labkit.backends import embedded
from labkit.course.checks import Status
from labkit.lessons.l04_sqs_standard_vs_fifo import checks
from labkit.lessons.l04_sqs_standard_vs_fifo.trial import Attempt, Trial, plan


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Private embedded servers for this file's trials (one start for all of them)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
                mp.delenv(name)
        mp.setenv("LABKIT_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("LABKIT_PORT", "0")
        mp.setenv("LABKIT_MOTO_PORT", "0")
        mp.setenv("LABKIT_DNS_PORT", "0")
        mp.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
        before = set(os.environ)
        yield labkit.connect(show=False)
        for name in set(os.environ) - before:
            del os.environ[name]
        embedded.stop()


def fill_orders(queue_type: str = "fifo") -> str:
    """What the notebook's fill cell does: 9 orders in groups A, B, C, visibility timeout 2 s."""
    sqs = boto3.client("sqs")
    name = f"labkit-04-{uuid.uuid4().hex[:8]}-orders-{uuid.uuid4().hex[:4]}"
    if queue_type == "standard":
        return sqs.create_queue(QueueName=name)["QueueUrl"].rsplit("/", 1)[-1]
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "2"})
    orders = [f"{group}-{n}" for n in (1, 2, 3) for group in "ABC"]
    entries = [
        {"Id": str(i), "MessageBody": b, "MessageGroupId": b[0], "MessageDeduplicationId": b}
        for i, b in enumerate(orders)
    ]
    sqs.send_message_batch(QueueUrl=url["QueueUrl"], Entries=entries)
    return f"{name}.fifo"


# ----------------------------------------------------------------------------- consumers a learner might write


def solution(sqs, queue_url, handle):
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", [])
    failed = set()
    for m in got:
        group = m["Attributes"]["MessageGroupId"]
        if group in failed:
            continue
        try:
            handle(m["Body"])
        except Exception:
            failed.add(group)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def stop_at_first_failure(sqs, queue_url, handle):
    """Stricter than needed (the rest of the batch waits too), and still right: order is kept."""
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        try:
            handle(m["Body"])
        except Exception:
            return
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def batch_deletes(sqs, queue_url, handle):
    """Deleting the handled ones in one delete_message_batch at the end is right too."""
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", [])
    failed, done = set(), []
    for m in got:
        if m["Attributes"]["MessageGroupId"] in failed:
            continue
        try:
            handle(m["Body"])
            done.append(m)
        except Exception:
            failed.add(m["Attributes"]["MessageGroupId"])
    if done:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def no_delete(sqs, queue_url, handle):
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", [])
    failed = set()
    for m in got:
        if m["Attributes"]["MessageGroupId"] in failed:
            continue
        try:
            handle(m["Body"])
        except Exception:
            failed.add(m["Attributes"]["MessageGroupId"])


def delete_before_handling(sqs, queue_url, handle):
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", [])
    failed = set()
    for m in got:
        if m["Attributes"]["MessageGroupId"] in failed:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        try:
            handle(m["Body"])
        except Exception:
            failed.add(m["Attributes"]["MessageGroupId"])


def goes_on_after_a_failure(sqs, queue_url, handle):
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        try:
            handle(m["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        except Exception:
            pass


def group_not_asked_for(sqs, queue_url, handle):
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        group = m["Attributes"]["MessageGroupId"]  # KeyError: no attributes were asked for
        handle(m["Body"] + group)


def one_at_a_time(sqs, queue_url, handle):
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
    for m in got:
        try:
            handle(m["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        except Exception:
            pass


def error_escapes(sqs, queue_url, handle):
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        handle(m["Body"])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def does_nothing(sqs, queue_url, handle): ...


def hands_over_the_message(sqs, queue_url, handle):
    for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            handle(m)
        except TypeError:
            return


def own_client(client, queue_url, handle):
    sqs = boto3.client("sqs")
    solution(sqs, queue_url, handle)


def never_returns(sqs, queue_url, handle):
    """Right about every order, but it loops by itself instead of returning (here: for 12 s, then it stops)."""
    end = time.monotonic() + 12
    while time.monotonic() < end:
        solution(sqs, queue_url, handle)


def long_visibility(sqs, queue_url, handle):
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", [])
    failed = set()
    for m in got:
        if m["Attributes"]["MessageGroupId"] in failed:
            continue
        try:
            handle(m["Body"])
        except Exception:
            failed.add(m["Attributes"]["MessageGroupId"])
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.slow
@pytest.mark.parametrize("consumer", [solution, stop_at_first_failure, batch_deletes], ids=lambda f: f.__name__)
def test_a_consumer_that_keeps_each_group_in_order_passes(lab, consumer):
    result = checks.ordered_consumer(fill_orders(), consumer)
    assert result.status is Status.PASS, result.message
    assert "9 orders in 3 groups" in result.message and "B-2 and C-2 failed the first time" in result.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("consumer", "says"),
    [
        (no_delete, "nothing was deleted"),
        (delete_before_handling, "was deleted but never handled"),
        (goes_on_after_a_failure, "B-3 was handled while B-2 had failed"),
        (group_not_asked_for, "MessageSystemAttributeNames=['MessageGroupId']"),
        (one_at_a_time, "MaxNumberOfMessages=10"),
        (error_escapes, "catch it"),
        (does_nothing, "process_batch received nothing"),
        (hands_over_the_message, "give it the message's body"),
        (own_client, "use the sqs client process_batch is given"),
        (long_visibility, "VisibilityTimeout=30"),
        (never_returns, "process_batch did not return"),
    ],
    ids=lambda x: x.__name__ if callable(x) else "",
)
def test_each_typical_mistake_gets_its_hint(lab, consumer, says):
    result = checks.ordered_consumer(fill_orders(), consumer)
    assert result.status is Status.NOT_YET
    assert says in result.message, result.message


def test_the_check_says_what_to_fix_before_running_anything(lab):
    assert "should be a function" in checks.ordered_consumer(fill_orders(), "process_batch").message
    assert "three arguments" in checks.ordered_consumer(fill_orders(), lambda queue_url, handle: None).message
    assert "standard queue" in checks.ordered_consumer(fill_orders("standard"), solution).message
    assert "no queue named" in checks.ordered_consumer("labkit-04-00000000-orders-0000.fifo", solution).message
    assert "nothing to check yet" in checks.ordered_consumer(fill_orders(), None).message


@pytest.mark.slow
def test_an_emptied_queue_asks_for_a_new_fill(lab):
    name = fill_orders()
    assert checks.ordered_consumer(name, solution).status is Status.PASS
    again = checks.ordered_consumer(name, solution)
    assert again.status is Status.NOT_YET and "is empty: run this cell again" in again.message


# ----------------------------------------------------------------------------- the trial's bookkeeping, alone


def test_plan_keeps_fifo_order_and_fails_the_second_order_of_every_group_but_the_first():
    def m(body):
        return {"Body": body, "Attributes": {"MessageGroupId": body[0]}}

    groups, fail = plan([m(b) for b in ("A-1", "B-1", "C-1", "A-2", "B-2", "C-2", "A-3", "B-3", "C-3")])
    assert groups == {"A": ["A-1", "A-2", "A-3"], "B": ["B-1", "B-2", "B-3"], "C": ["C-1", "C-2", "C-3"]}
    assert fail == {"B-2", "C-2"}
    assert plan([m("A-1"), m("A-2"), m("A-3")])[1] == {"A-2"}  # one group: it fails once itself
    assert plan([m("A-1"), m("B-1"), m("B-2")])[1] == set()  # nothing after B-2 to hold back


def test_order_breaks_tell_a_skipped_failure_from_a_plain_reorder():
    trial = Trial("url", {"B": ["B-1", "B-2", "B-3"]}, {"B-2"})

    def attempts(*steps):
        trial.attempts = [Attempt(body, i, i + 0.5, ok) for i, (body, ok) in enumerate(steps)]
        return trial.order_breaks()

    assert attempts(("B-1", True), ("B-2", False), ("B-2", True), ("B-3", True)) == []
    assert attempts(("B-1", True), ("B-2", False), ("B-3", True)) == [("B-2", "B-3", True)]
    assert attempts(("B-1", True), ("B-3", True), ("B-2", True)) == [("B-2", "B-3", False)]
    assert attempts(("B-1", True), ("B-1", True), ("B-2", True), ("B-3", True)) == []  # a duplicate, not a reorder
    assert trial.handled() == {"B-1": 2, "B-2": 1, "B-3": 1}
