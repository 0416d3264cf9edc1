"""Lesson 04's consumer threads: each records what it received, so ordering and duplicates can be shown."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from labkit.aws.tally import Tally

_SEQ = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Event:
    """One message handled by one consumer: who, what, and when (seconds since the run began)."""

    consumer: int
    body: str
    group: str
    seq: int
    start: float
    end: float
    receive_count: int = 1
    message_id: str = ""


def seq_of(body: str) -> int:
    """The number at the end of a body like ``A-3`` or ``order-12`` (-1 if none)."""
    m = _SEQ.search(body)
    return int(m.group(1)) if m else -1


def run_consumers(
    sqs,
    queue_url: str,
    *,
    consumers: int,
    expected: int,
    work: Callable[[str], float] = lambda body: 0.05,
    tally: Tally | None = None,
    visibility_timeout: int = 20,
    timeout: float = 30.0,
) -> list[Event]:
    """Start ``consumers`` threads that receive one message at a time, "work" on it, and delete it.

    Each consumer: ``receive_message(MaxNumberOfMessages=1)`` → sleep ``work(body)`` seconds →
    ``delete_message``. They stop once ``expected`` messages were handled (or after ``timeout``).
    Returns the events in the order they finished.
    """
    events: list[Event] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    deadline = t0 + timeout
    errors: list[BaseException] = []

    def consumer(number: int) -> None:
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(events) >= expected:
                        return
                got = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=1,
                    VisibilityTimeout=visibility_timeout,
                    MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
                ).get("Messages", [])
                if not got:
                    time.sleep(0.02)
                    continue
                m = got[0]
                start = time.monotonic() - t0
                time.sleep(work(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                attrs = m.get("Attributes", {})
                event = Event(
                    consumer=number,
                    body=m["Body"],
                    group=attrs.get("MessageGroupId", "queue"),
                    seq=seq_of(m["Body"]),
                    start=start,
                    end=time.monotonic() - t0,
                    receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
                    message_id=m["MessageId"],
                )
                if tally is not None:
                    tally.done(m)
                with lock:
                    events.append(event)
        except BaseException as err:  # surfaced below, in the caller's thread
            errors.append(err)

    threads = [threading.Thread(target=consumer, args=(n,), daemon=True) for n in range(1, consumers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    if errors:
        raise errors[0]
    return sorted(events, key=lambda e: e.end)


def out_of_order(events: Iterable[Event]) -> list[Event]:
    """Events that finished after a later-sent message of the same group had already finished."""
    late: list[Event] = []
    highest: dict[str, int] = {}
    for e in sorted(events, key=lambda e: e.end):
        if e.seq < highest.get(e.group, -1):
            late.append(e)
        highest[e.group] = max(highest.get(e.group, -1), e.seq)
    return late
