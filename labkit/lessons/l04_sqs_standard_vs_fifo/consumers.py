"""Lesson 04's consumer threads: the learner writes the consumer, labkit runs copies of it and keeps the record.

The notebook defines ``consumer(sqs, queue_url, log)`` (receive → work → ``log.record`` → delete, while
``log.running``); :func:`run_consumers` starts N threads that each call it with a :class:`ConsumerLog` of
their own, and returns what they recorded as :class:`Event`s, for the lanes chart and the questions a
learner asks of a run (in order? how parallel?). labkit sends, receives and deletes nothing here.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from labkit import session
from labkit.aws.tally import Tally
from labkit.errors import WorkerFailed

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


class _Run:
    """What the consumers of one run share: the clock, the events so far, and when to stop."""

    def __init__(self, expected: int, timeout: float, tally: Tally | None) -> None:
        self.expected = expected
        self.tally = tally
        self.t0 = time.monotonic()
        self.deadline = self.t0 + timeout
        self.events: list[Event] = []
        self.failures: list[tuple[int, BaseException]] = []  # (consumer, what it raised)
        self.lock = threading.Lock()

    @property
    def running(self) -> bool:
        with self.lock:
            return not self.failures and len(self.events) < self.expected and time.monotonic() < self.deadline


class ConsumerLog:
    """The notebook's consumer writes here what it processed; one log per consumer thread.

    ``running`` is True until every expected message has been recorded (or the run's time is up):
    loop ``while log.running``. ``clock()`` is seconds since the run began; ``record(message, started)``
    notes that this consumer processed ``message`` (a dict from ``receive_message``) between ``started``
    and now, and counts it in the lesson's tally.
    """

    def __init__(self, run: _Run, consumer: int) -> None:
        self._run = run
        self.consumer = consumer

    @property
    def running(self) -> bool:
        return self._run.running

    def clock(self) -> float:
        return time.monotonic() - self._run.t0

    def record(self, message: dict, started: float) -> Event:
        attrs = message.get("Attributes", {})
        event = Event(
            consumer=self.consumer,
            body=message["Body"],
            group=attrs.get("MessageGroupId", "queue"),
            seq=seq_of(message["Body"]),
            start=started,
            end=self.clock(),
            receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
            message_id=message.get("MessageId", ""),
        )
        if self._run.tally is not None:
            self._run.tally.done(message)
        with self._run.lock:
            self._run.events.append(event)
        return event


def run_consumers(
    consumer: Callable[..., object],
    sqs,
    queue_url: str,
    *,
    consumers: int,
    expected: int,
    tally: Tally | None = None,
    timeout: float = 30.0,
) -> list[Event]:
    """Run ``consumer(sqs, queue_url, log)`` in ``consumers`` threads at once; return what they recorded.

    Each thread gets its own :class:`ConsumerLog`; ``log.running`` turns False once ``expected``
    messages were recorded (or after ``timeout`` seconds), so a consumer that loops ``while log.running``
    returns then. A consumer that raises (a ``delete_message`` refused, the queue gone) stops the run at
    once: ``log.running`` turns False for the others, and ``WorkerFailed`` says here, in the caller's
    thread and in one line, which consumer failed, why, and how many messages were recorded by then (the
    others are still in the queue: what was received and not deleted comes back after its visibility
    timeout). When the backend was restarted under the run, it is ``BackendRestarted`` with that line.
    Returns the events in the order they finished.
    """
    run = _Run(expected, timeout, tally)

    def work(number: int) -> None:
        try:
            consumer(sqs, queue_url, ConsumerLog(run, number))
        except BaseException as err:  # surfaced below, in the caller's thread
            with run.lock:
                run.failures.append((number, err))

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(1, consumers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(run.deadline - time.monotonic(), 0) + 25)  # + a long poll of up to 20 s in progress
    with run.lock:
        failures, events = list(run.failures), sorted(run.events, key=lambda e: e.end)
    if failures:
        number, err = failures[0]
        explained = session.explain(err)
        if explained is not err:
            raise explained
        others = f" ({len(failures) - 1} more consumers failed too)" if len(failures) > 1 else ""
        raise WorkerFailed(
            f"consumer {number} raised {session.describe(err)}{others}; {len(events)} of {expected} messages "
            "were recorded, the rest are still in the queue"
        ) from err
    return events


def out_of_order(events: Iterable[Event]) -> list[Event]:
    """Events that finished after a later-sent message of the same group had already finished."""
    late: list[Event] = []
    highest: dict[str, int] = {}
    for e in sorted(events, key=lambda e: e.end):
        if e.seq < highest.get(e.group, -1):
            late.append(e)
        highest[e.group] = max(highest.get(e.group, -1), e.seq)
    return late
