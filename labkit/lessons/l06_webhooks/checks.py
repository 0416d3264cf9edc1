"""Checks for 06-webhooks.

The exercise's result is a function in the learner's kernel, so the check runs it for real: two
copies of it behind two HTTP servers on 127.0.0.1 (``WebhookServer``), as two receivers behind one
URL would be, each with its own copy of the sets, dicts and lists the function keeps (a second
process has its own memory). It sends them genuine, repeated, forged and stale deliveries signed
the Standard Webhooks way, then reads the FIFO queue the function sends to: every forgery refused
with 401 or 403, the genuine delivery queued exactly once, its repeats answered 2xx.

The queue is the exercise's own: the check empties it before and after, so it can run again.
"""

from __future__ import annotations

import copy
import json
import time
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from labkit.aws.sqs import queue_name
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.lessons.l06_webhooks.sender import new_secret, signed_headers
from labkit.lessons.l06_webhooks.server import WebhookServer

PATH = "/webhooks/mail"
SLOW_S = 3.0  # a sender gives up on an answer after a few seconds; this lesson's waits 2 s
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    seconds: float


def _post(url: str, body: str, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    started = time.monotonic()
    try:
        with _DIRECT.open(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        reason = str(json.loads(raw).get("reason", ""))
    except ValueError:
        reason = raw.decode(errors="replace")[:200]
    return Answer(status, reason, time.monotonic() - started)


def second_copy(function: Callable[..., Any]) -> Callable[..., Any]:
    """The same function, with its own copies of the sets, dicts and lists it uses: a second process.

    Two receivers behind one URL are two processes; what one keeps in memory the other never sees.
    The copies are shallow and made now, so both start from what the function knew so far.
    """
    if not isinstance(function, types.FunctionType):
        return function
    mutable = (set, dict, list)
    names = dict(function.__globals__)
    for name in function.__code__.co_names:
        if isinstance(names.get(name), mutable):
            names[name] = copy.copy(names[name])
    cells = tuple(
        types.CellType(copy.copy(c.cell_contents)) if isinstance(c.cell_contents, mutable) else c
        for c in function.__closure__ or ()
    )
    twin = types.FunctionType(function.__code__, names, function.__name__, function.__defaults__, cells or None)
    twin.__kwdefaults__ = function.__kwdefaults__
    return twin


def _drain(sqs: Any, queue_url: str, wait: int = 0) -> list[dict]:
    """Receive and delete every visible message of the exercise's queue; return them."""
    taken: list[dict] = []
    for _ in range(50):
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        taken += got
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        wait = 0
    return taken


def _names_the_id(message: dict, webhook_id: str) -> bool:
    attribute = message.get("MessageAttributes", {}).get("webhook-id", {}).get("StringValue")
    return webhook_id in (attribute, message.get("Attributes", {}).get("MessageDeduplicationId"))


def _is(message: dict, webhook_id: str, body: str) -> bool:
    """The message carries this delivery: its id, or (the id left out) the same event as its body."""
    if _names_the_id(message, webhook_id):
        return True
    try:
        return json.loads(message.get("Body", "")) == json.loads(body)
    except ValueError:
        return False


def _raised(answers: dict[str, Answer]) -> str | None:
    """A hint for the first delivery the function raised on (the server answered 500 with the error)."""
    for case, a in answers.items():
        if a.status != 500 or " raised " not in a.reason:
            continue
        error = a.reason.split(" raised ", 1)[1]
        if error.startswith("TypeError: returned "):
            return f"on the {case} delivery your function {error.removeprefix('TypeError: ')}"
        if "MessageGroupId" in error:
            return f"the {case} delivery: {error}: a FIFO queue needs MessageGroupId (e.g. the mail id)"
        if "MessageDeduplicationId" in error or "ContentBasedDeduplication" in error:
            return (
                f"the {case} delivery: {error}: give MessageDeduplicationId=headers['webhook-id'], "
                "so the queue drops a repeat of the same delivery"
            )
        if error.startswith("KeyError") and any(c.isupper() for c in error.split(":", 1)[-1]):
            return f"the {case} delivery: {error}: the header names arrive in lower case, e.g. 'webhook-id'"
        return f"your function raised on the {case} delivery: {error}"
    return None


@exercise(
    1,
    "two copies of the receiver",
    notebook_only="the receiver is a function in your kernel: the check runs it against real deliveries",
)
def shared_receiver(receive: Callable[[dict[str, str], str], Any], queue_url: str, secret: str) -> Result:
    """``receive(headers, body)`` verifies, lets the FIFO queue at ``queue_url`` deduplicate, and answers fast."""
    if not callable(receive):
        return hint(f"expected a function receive(headers, body), got {type(receive).__name__}: define it with def")
    sqs = boto3.client("sqs")
    name = queue_name(queue_url)
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["FifoQueue"]).get("Attributes", {})
    if attrs.get("FifoQueue") != "true":
        return hint(f"{name} is a standard queue: the receivers need a FIFO queue (a .fifo name, FifoQueue='true')")
    _drain(sqs, queue_url)

    run = uuid.uuid4().hex[:8]
    genuine_id, forged_id, stale_id = (f"msg_check{run}{n}" for n in "123")
    mail = f"m-check-{run}"
    stamp = datetime.now(tz=timezone.utc)

    def event(kind: str, **data: str) -> str:
        payload = {"type": kind, "timestamp": stamp.isoformat(), "data": {"mail_id": mail, **data}}
        return json.dumps(payload, separators=(",", ":"))

    genuine, stale = event("email.opened"), event("email.delivered")
    forged = event("email.clicked", link="https://evil.example")
    old = stamp - timedelta(minutes=10)
    with WebhookServer({PATH: receive}) as one, WebhookServer({PATH: second_copy(receive)}) as two:
        answers = {
            "genuine": _post(one.url(PATH), genuine, signed_headers(secret, genuine_id, genuine)),
            "repeated (to the second copy)": _post(two.url(PATH), genuine, signed_headers(secret, genuine_id, genuine)),
            "repeated (to the first copy)": _post(one.url(PATH), genuine, signed_headers(secret, genuine_id, genuine)),
            "signed with another secret": _post(one.url(PATH), forged, signed_headers(new_secret(), forged_id, forged)),
            "body changed after signing": _post(two.url(PATH), forged, signed_headers(secret, forged_id, genuine)),
            "signed 10 minutes ago": _post(two.url(PATH), stale, signed_headers(secret, stale_id, stale, at=old)),
            "unsigned": _post(one.url(PATH), forged, {"content-type": "application/json"}),
        }
    queued = _drain(sqs, queue_url, wait=1)

    problem = _raised(answers)
    if problem:
        return hint(problem)
    first = answers["genuine"]
    if not 200 <= first.status < 300:
        return hint(
            f"a genuine delivery was answered {first.status} ({first.reason}): verify with the secret you pass "
            "here, over id.timestamp.body, and answer 202 when it matches"
        )
    copies = [m for m in queued if _is(m, genuine_id, genuine)]
    if not copies:
        return hint(f"the genuine delivery was answered {first.status} but never reached {name}: send_message to it")
    for case in ("signed with another secret", "body changed after signing", "signed 10 minutes ago"):
        a = answers[case]
        if 200 <= a.status < 300:
            fix = (
                "refuse a timestamp more than 5 minutes from now (verify does)"
                if "minutes" in case
                else "verify the signature before anything else, and answer 401"
            )
            return hint(f"a delivery {case} was answered {a.status}: {fix}")
        if a.status not in (401, 403):
            return hint(f"a delivery {case} was answered {a.status}: answer 401 (or 403) to a bad signature")
    if not 400 <= answers["unsigned"].status < 500:
        return hint(f"an unsigned delivery was answered {answers['unsigned'].status}: refuse it with a 4xx")
    leaked = [m for m in queued if _is(m, forged_id, forged) or _is(m, stale_id, stale)]
    if leaked:
        return hint(f"{len(leaked)} refused deliveries still reached {name}: verify first, send_message after")
    for case in ("repeated (to the second copy)", "repeated (to the first copy)"):
        a = answers[case]
        if not 200 <= a.status < 300:
            return hint(
                f"a {case} delivery was answered {a.status} ({a.reason}): answer 2xx to a delivery you have, "
                "or the sender retries it and finally gives it up"
            )
    if len(copies) > 1:
        return hint(
            f"the same delivery reached {name} {len(copies)} times: what one copy remembers the other does not; "
            "send it with MessageDeduplicationId=headers['webhook-id'] and let the FIFO queue drop the repeats"
        )
    if not _names_the_id(copies[0], genuine_id):
        return hint(
            "the queued message does not say its webhook id: add the webhook-id message attribute, as receive "
            "does, so the worker can keep its record of what it processed"
        )
    slowest = max(a.seconds for a in answers.values())
    if slowest > SLOW_S:
        return hint(
            f"the slowest answer took {slowest:.1f} s: queue the event and answer at once; the worker does the rest"
        )
    refused = ", ".join(str(answers[c].status) for c in list(answers)[3:])
    return passed(
        f"forgeries refused ({refused}); the genuine delivery queued once although both copies took it "
        f"({len(answers)} requests, slowest answer {slowest * 1000:.0f} ms)"
    )
