"""Exercise 2's trial: run the learner's ``process_batch(sqs, queue_url, handle)`` on their FIFO queue.

The queue holds orders the notebook sent (``A-1`` … in a few message groups). The trial calls the
learner's function again and again from two threads, with

- ``sqs``: a :class:`WatchedSQS`, a real SQS client that notes each receive and delete it makes;
- ``handle(body)``: "processes" one order: notes the attempt, and raises :class:`ProcessingFailed`
  the first time for a few chosen orders (a payment service that times out once),

until every order was handled and the queue is empty (or nothing moves any more, or time is up).
:class:`Trial` keeps what happened; ``checks.ordered_consumer`` turns it into ✓ or a hint. The
trial itself sends nothing and deletes nothing: every receive and delete is the learner's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.aws.sqs import depth, peek_all


class ProcessingFailed(Exception):
    """What ``handle(body)`` raises for an order the trial makes fail once."""


@dataclass(frozen=True)
class Attempt:
    """One call of ``handle(body)``: when, and whether it succeeded."""

    body: str
    start: float
    end: float
    ok: bool


@dataclass(frozen=True)
class Deletion:
    """One message the learner's code deleted (a delete SQS accepted)."""

    message_id: str
    body: str
    at: float


class WatchedSQS:
    """An SQS client that notes the receives and deletes made through it; everything else passes through."""

    def __init__(self, client, trial: Trial) -> None:
        self._client = client
        self._trial = trial

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def receive_message(self, **kwargs):
        response = self._client.receive_message(**kwargs)
        self._trial.received(kwargs, response.get("Messages", []))
        return response

    def delete_message(self, **kwargs):
        response = self._client.delete_message(**kwargs)
        self._trial.deleted([kwargs.get("ReceiptHandle", "")])
        return response

    def delete_message_batch(self, **kwargs):
        response = self._client.delete_message_batch(**kwargs)
        handles = {e.get("Id"): e.get("ReceiptHandle", "") for e in kwargs.get("Entries", [])}
        self._trial.deleted([handles.get(s.get("Id"), "") for s in response.get("Successful", [])])
        return response


@dataclass
class Trial:
    """One run of the learner's consumer on ``queue_url``: what it was given and what it did."""

    queue_url: str
    groups: dict[str, list[str]]  # group -> bodies in send order
    fail_once: set[str]
    visibility: int = 2
    attempts: list[Attempt] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    receive_calls: list[dict] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    misuse: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)  # ProcessingFailed that left process_batch
    left: list[str] = field(default_factory=list)  # bodies still in the queue at the end
    stuck: bool = False  # a call of process_batch did not return (it loops on by itself)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._ids: dict[str, tuple[str, str]] = {}  # receipt handle -> (MessageId, Body)
        self._failed: set[str] = set()

    # ------------------------------------------------------------------ what the learner's code calls

    def clock(self) -> float:
        return time.monotonic() - self._t0

    def handle(self, body) -> None:
        """Process one order (its body): fails the first time for the orders in ``fail_once``."""
        if not isinstance(body, str):
            with self._lock:
                self.misuse.append(type(body).__name__)
            raise TypeError("handle() takes the message's body, m['Body']")
        start = self.clock()
        time.sleep(0.01)
        with self._lock:
            fails = body in self.fail_once and body not in self._failed
            if fails:
                self._failed.add(body)
            self.attempts.append(Attempt(body, start, self.clock(), not fails))
        if fails:
            raise ProcessingFailed(f"{body}: the payment service timed out (this order fails once)")

    def received(self, kwargs: dict, messages: list[dict]) -> None:
        with self._lock:
            self.receive_calls.append(dict(kwargs))
            for m in messages:
                self._ids[m["ReceiptHandle"]] = (m["MessageId"], m["Body"])

    def deleted(self, receipt_handles: list[str]) -> None:
        at = self.clock()
        with self._lock:
            for handle in receipt_handles:
                message_id, body = self._ids.get(handle, ("", "?"))
                self.deletions.append(Deletion(message_id, body, at))

    # ------------------------------------------------------------------ running it

    def run(self, process_batch: Callable[..., object], client, *, consumers: int = 2, timeout: float = 20.0) -> None:
        """Call ``process_batch(sqs, queue_url, handle)`` from ``consumers`` threads until the orders are done."""
        sqs = WatchedSQS(client, self)
        stop = threading.Event()
        returned = [0] * consumers  # calls of process_batch that returned, per thread

        def worker(n: int) -> None:
            while not stop.is_set():
                before = len(self.attempts)
                try:
                    process_batch(sqs, self.queue_url, self.handle)
                except ProcessingFailed as err:
                    with self._lock:
                        self.escaped.append(str(err).split(":")[0])
                except Exception as err:  # the learner's code failed: stop, and say why
                    with self._lock:
                        self.errors.append(err)
                    stop.set()
                finally:
                    returned[n] += 1
                if len(self.attempts) == before:
                    time.sleep(0.1)  # nothing handled in this call: do not hammer the queue

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(consumers)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        empty_reads = 0
        all_handled_at: float | None = None
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.2)
            if min(returned) and not self.receive_calls and not self.attempts:
                break  # every thread's call returned without receiving anything: nothing will happen
            last = max((a.end for a in self.attempts), default=0.0)
            if self.clock() - last > self.visibility + 3:
                break  # nothing handled for a while: stuck, or nothing left to do
            empty_reads = empty_reads + 1 if sum(depth(client, self.queue_url)) == 0 else 0
            if empty_reads >= 2:
                break  # the queue is empty: every order handled and deleted (or lost)
            if self.misuse or any(n > 1 for n in self.handled().values()):
                break  # handle() given something else than a body, or an order handled twice: enough seen
            if all_handled_at is None and set(self.bodies) <= set(self.handled()):
                all_handled_at = self.clock()
            if all_handled_at is not None and self.clock() - all_handled_at > self.visibility + 1.5:
                break  # all handled, but the queue does not empty: they were not deleted
        stop.set()
        # A call in progress ends within its long poll (handle() takes 10 ms); one that does not never returns.
        longest_poll = max((int(k.get("WaitTimeSeconds", 0)) for k in list(self.receive_calls)), default=0)
        joined_by = time.monotonic() + min(longest_poll, 20) + 2.0
        for t in threads:
            t.join(max(joined_by - time.monotonic(), 0.0))
        self.stuck = any(t.is_alive() for t in threads)
        self.seconds = self.clock()
        # Messages received but not deleted come back after the visibility timeout: wait, then look.
        settle = time.monotonic() + self.visibility + 1
        while depth(client, self.queue_url)[1] and time.monotonic() < settle:
            time.sleep(0.2)
        self.left = [m["Body"] for m in peek_all(client, self.queue_url)]

    # ------------------------------------------------------------------ what happened

    @property
    def bodies(self) -> list[str]:
        return [b for group in self.groups.values() for b in group]

    def handled(self) -> dict[str, int]:
        """Successful ``handle`` calls per body."""
        out: dict[str, int] = {}
        for a in self.attempts:
            if a.ok:
                out[a.body] = out.get(a.body, 0) + 1
        return out

    def deleted_too_soon(self) -> list[str]:
        """Bodies deleted before a ``handle`` call had succeeded for them (a failed one, a skipped one...)."""
        done_at: dict[str, float] = {}
        for a in self.attempts:
            if a.ok:
                done_at[a.body] = min(done_at.get(a.body, a.end), a.end)
        early = [d.body for d in self.deletions if d.body in done_at and d.at < done_at[d.body]]
        early += [d.body for d in self.deletions if d.body not in done_at]
        return list(dict.fromkeys(early))

    def order_breaks(self) -> list[tuple[str, str, bool]]:
        """(the order that was due, the one handled instead, whether the due one had failed) per group."""
        breaks = []
        position = {b: i for group in self.groups.values() for i, b in enumerate(group)}
        for bodies in self.groups.values():
            due, failed = 0, False
            for a in sorted((a for a in self.attempts if a.body in bodies), key=lambda a: a.start):
                p = position[a.body]
                if p < due:
                    continue  # handled again: a duplicate, not an order problem
                if p > due:
                    breaks.append((bodies[due], a.body, failed))
                    break
                if a.ok:
                    due, failed = due + 1, False
                else:
                    failed = True
        return breaks

    def deleted_twice(self) -> list[str]:
        seen: dict[str, int] = {}
        for d in self.deletions:
            seen[d.message_id] = seen.get(d.message_id, 0) + 1
        return [d.body for d in self.deletions if d.message_id and seen[d.message_id] > 1]

    def largest_receive(self) -> int:
        return max((int(k.get("MaxNumberOfMessages", 1)) for k in self.receive_calls), default=0)

    def longest_visibility(self) -> int:
        return max((int(k.get("VisibilityTimeout", 0)) for k in self.receive_calls), default=0)


def plan(messages: list[dict]) -> tuple[dict[str, list[str]], set[str]]:
    """From the messages in the queue, as receive_message returned them (with their MessageGroupId): each
    group's orders in FIFO order, and which orders fail once: the 2nd of every group but the first (of the
    only group, if there is one)."""
    groups: dict[str, list[str]] = {}
    for m in messages:
        groups.setdefault(m.get("Attributes", {}).get("MessageGroupId", ""), []).append(m["Body"])
    groups = dict(sorted(groups.items()))
    fail: set[str] = set()
    for i, bodies in enumerate(groups.values()):
        if (i >= 1 or len(groups) == 1) and len(bodies) >= 3:  # an order after it, to be held back
            fail.add(bodies[1])
    return groups, fail
