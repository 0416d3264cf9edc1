"""The exercise's check, ``checks.shared_receiver``: the lesson's solution passes, each typical mistake gets its hint.

The check runs the learner's function for real (two ``WebhookServer`` copies on 127.0.0.1) against
in-process moto SQS. The solution is read from the notebook; each wrong receiver below makes one
mistake a learner makes, built on the notebook's own ``verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from types import SimpleNamespace

import boto3
import pytest
from test_webhooks_security import SECRET, lesson_definitions

from labkit.course.checks import Status
from labkit.lessons.l06_webhooks import checks

verify = lesson_definitions("TOLERANCE", "verify")["verify"]


@pytest.fixture
def sqs(moto_env, monkeypatch):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    return boto3.client("sqs")


@pytest.fixture
def fifo(sqs):
    return sqs.create_queue(QueueName=f"shared-{uuid.uuid4().hex[:6]}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]


def solution(sqs, url):
    scope = lesson_definitions(
        "TOLERANCE", "verify", "receive_shared", acme=SimpleNamespace(secret=SECRET), sqs=sqs, shared_url=url
    )
    return scope["receive_shared"]


def sender(sqs, url, *, group=True, dedup=True, attribute=True):
    """send(headers, body): send_message to ``url`` with the parts a learner may leave out."""

    def send(headers, body):
        extra: dict = {}
        if group:
            extra["MessageGroupId"] = "acme"
        if dedup:
            extra["MessageDeduplicationId"] = headers["webhook-id"] if dedup is True else dedup()
        if attribute:
            extra["MessageAttributes"] = {"webhook-id": {"DataType": "String", "StringValue": headers["webhook-id"]}}
        sqs.send_message(QueueUrl=url, MessageBody=body, **extra)

    return send


def check(receive, url):
    result = checks.shared_receiver(receive, url, SECRET)
    assert result.status is Status.NOT_YET, result.message
    return result.message


def test_the_lessons_solution_passes_and_can_run_again(sqs, fifo):
    receive_shared = solution(sqs, fifo)
    first = checks.shared_receiver(receive_shared, fifo, SECRET)
    assert first.status is Status.PASS, first.message
    assert "forgeries refused (401, 401, 401, 401)" in first.message
    again = checks.shared_receiver(receive_shared, fifo, SECRET)
    assert again.status is Status.PASS, again.message
    left = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"  # the check empties the exercise's queue


def test_the_student_stub_is_told_what_to_write(sqs, fifo):
    def receive_shared(headers, body):
        return 501, "not written yet"

    assert "a genuine delivery was answered 501 (not written yet)" in check(receive_shared, fifo)


def test_memory_shared_by_no_one_queues_a_repeat_twice(sqs, fifo):
    """The in-memory set of `receive`, on a FIFO queue but with a fresh deduplication id each time."""
    send = sender(sqs, fifo, dedup=lambda: uuid.uuid4().hex)
    mine: set[str] = set()

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        if headers["webhook-id"] in mine:
            return 200, "duplicate"
        send(headers, body)
        mine.add(headers["webhook-id"])
        return 202, "queued"

    message = check(receive_shared, fifo)
    assert "reached" in message and "2 times" in message and "MessageDeduplicationId" in message


def test_no_verification_at_all(sqs, fifo):
    send = sender(sqs, fifo)

    def receive_shared(headers, body):
        send({"webhook-id": headers.get("webhook-id") or uuid.uuid4().hex}, body)
        return 202, "queued"

    assert "signed with another secret was answered 202: verify the signature" in check(receive_shared, fifo)


def test_no_timestamp_check(sqs, fifo):
    send = sender(sqs, fifo)

    def signature_only(headers, body):  # the HMAC, in constant time, but any timestamp goes
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.{body}".encode()
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(headers.get("webhook-signature", "").encode(), expected.encode())

    def receive_shared(headers, body):
        if not signature_only(headers, body):
            return 401, "signature does not match"
        send(headers, body)
        return 202, "queued"

    assert "signed 10 minutes ago was answered 202: refuse a timestamp" in check(receive_shared, fifo)


def test_a_bad_signature_answered_400(sqs, fifo):
    send = sender(sqs, fifo)

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 400, why
        send(headers, body)
        return 202, "queued"

    assert "answered 400: answer 401 (or 403) to a bad signature" in check(receive_shared, fifo)


def test_queued_before_it_was_verified(sqs, fifo):
    send = sender(sqs, fifo)

    def receive_shared(headers, body):
        if headers.get("webhook-id"):
            send(headers, body)
        ok, why = verify(SECRET, headers, body)
        return (202, "queued") if ok else (401, why)

    assert "refused deliveries still reached" in check(receive_shared, fifo)


@pytest.mark.parametrize(
    ("left_out", "hint"),
    [
        ({"group": False}, "a FIFO queue needs MessageGroupId"),
        ({"dedup": False}, "give MessageDeduplicationId=headers['webhook-id']"),
    ],
)
def test_a_fifo_parameter_left_out(sqs, fifo, left_out, hint):
    send = sender(sqs, fifo, **left_out)

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        send(headers, body)
        return 202, "queued"

    assert hint in check(receive_shared, fifo)


def test_header_names_in_the_wrong_case(sqs, fifo):
    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        return 202, headers["Webhook-Id"]

    assert "the header names arrive in lower case" in check(receive_shared, fifo)


def test_nothing_returned(sqs, fifo):
    send = sender(sqs, fifo)

    def receive_shared(headers, body):
        if verify(SECRET, headers, body)[0]:
            send(headers, body)

    assert "your function returned None: return (status, reason)" in check(receive_shared, fifo)


def test_a_repeat_answered_409(sqs, fifo):
    send = sender(sqs, fifo)
    mine: set[str] = set()

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        if headers["webhook-id"] in mine:
            return 409, "seen it"
        send(headers, body)
        mine.add(headers["webhook-id"])
        return 202, "queued"

    assert "was answered 409 (seen it): answer 2xx to a delivery you have" in check(receive_shared, fifo)


def test_sent_to_another_queue(sqs, fifo):
    other = sqs.create_queue(QueueName="events")["QueueUrl"]
    send = sender(sqs, other, group=False, dedup=False)

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        send(headers, body)
        return 202, "queued"

    message = check(receive_shared, fifo)
    assert "answered 202 but never reached" in message and "send_message to it" in message


def test_content_based_deduplication_without_the_id_for_the_worker(sqs):
    url = sqs.create_queue(
        QueueName="content.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    send = sender(sqs, url, dedup=False, attribute=False)

    def receive_shared(headers, body):
        ok, why = verify(SECRET, headers, body)
        if not ok:
            return 401, why
        send(headers, body)
        return 202, "queued"

    assert "does not say its webhook id" in check(receive_shared, url)


def test_a_slow_answer(sqs, fifo, monkeypatch):
    monkeypatch.setattr(checks, "SLOW_S", 0.05)
    receive_fast = solution(sqs, fifo)

    def receive_shared(headers, body):
        time.sleep(0.1)
        return receive_fast(headers, body)

    assert "the slowest answer took" in check(receive_shared, fifo)


def test_a_standard_queue_and_a_non_function(sqs):
    standard = sqs.create_queue(QueueName="standard")["QueueUrl"]
    assert "is a standard queue" in check(lambda h, b: (202, ""), standard)
    assert "expected a function" in check("receive_shared", standard)


def test_second_copy_has_its_own_sets_dicts_and_lists_and_shares_the_rest():
    seen: set[str] = set()
    record: dict[str, int] = {}
    client = object()

    def receive(headers, body):
        seen.add(body)
        record[body] = 1
        return client

    twin = checks.second_copy(receive)
    assert twin("h", "x") is client  # the same client object: what both processes would share is the queue
    assert seen == set() and record == {}
    assert receive("h", "y") is client and seen == {"y"}
    assert checks.second_copy(len) is len  # not a Python function: nothing to copy
