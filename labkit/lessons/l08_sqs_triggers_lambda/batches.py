"""Lesson 08: what the handlers recorded about themselves, and what became of every message sent.

The notebook makes the calls it teaches (``send_message_batch``, ``create_event_source_mapping``,
``get_event_source_mapping``, ``delete_event_source_mapping``, ``receive_message``) in its own cells.
This module only reads and waits:

- :func:`recorded_batches` and :func:`wait_for_messages` read the ``BATCH {json}`` lines the lesson's
  ``batch_recorder`` handler prints (one per invocation) and turn them into timeline rows;
- :func:`account` and :func:`account_orders` reconcile the messages sent with what the handlers saw,
  what reached the DLQ and what is left in the queue: sent = handled + in the DLQ + left, nothing lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.aws.lambdas import log_events, log_records
from labkit.aws.waits import wait_until
from labkit.widgets.timeline import Invocation, invocations_from_records


def recorded_batches(function_name: str, *, queue: str | None = None, since_ms: int | None = None) -> list[dict]:
    """The recorder's BATCH records (one per invocation), oldest first; only those from ``queue`` if given."""
    records = log_records(function_name, "BATCH", since_ms=since_ms)
    return [r for r in records if queue is None or r.get("queue") == queue]


def wait_for_messages(
    function_name: str,
    bodies: Iterable[str],
    *,
    since_ms: int | None = None,
    timeout: float = 60.0,
    desc: str | None = None,
    progress: bool = True,
) -> list[Invocation]:
    """Wait until the recorder has logged every one of ``bodies``; the invocations that carried them, by start time.

    Other messages in those invocations are left out of the rows. With ``progress`` a bar counts the seconds
    (``wait_until``); without it the wait is silent (for a widget's callback) and raises ``TimeoutError`` the same.
    """
    wanted = set(bodies)
    handled: set[str] = set()

    def seen() -> list[Invocation] | None:
        records = []
        for record in log_records(function_name, "BATCH", since_ms=since_ms):
            mine = [m for m in record.get("messages", []) if m.get("body") in wanted]
            if mine:
                records.append({**record, "messages": mine})
        rows = invocations_from_records(records)
        handled.update(m for row in rows for m in row.messages)
        return rows if handled >= wanted else None

    what = desc or f"until {function_name} has handled {len(wanted)} messages"
    try:
        if progress:
            return wait_until(seen, timeout=timeout, interval=0.25, desc=what)
        deadline = time.monotonic() + timeout
        while (rows := seen()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not all seen after {timeout:.0f} s")
            time.sleep(0.25)
        return rows
    except TimeoutError as err:
        timed_out = sum("Task timed out" in e["message"] for e in log_events(function_name, since_ms=since_ms))
        raise TimeoutError(
            f"{err} ({len(handled & wanted)} of {len(wanted)} handled; {timed_out} invocations timed out in the "
            "function's log: a message that fails maxReceiveCount times is in the DLQ)"
        ) from None


# ----------------------------------------------------------------------------- every message accounted for


@dataclass(frozen=True)
class Attempt:
    """One time a message was handed to the function."""

    body: str
    ok: bool  # the attempt ended with Lambda deleting the message as done
    failed: bool  # the message itself could not be processed (not merely its batch)


def attempts_from_batches(records: list[dict], *, report_failures: bool) -> list[Attempt]:
    """Attempts from the recorder's BATCH records.

    Without partial batch responses (``report_failures=False``) one failed message fails its whole
    batch: none of the batch's messages is deleted, so none of their attempts counts as done.
    """
    attempts = []
    for record in records:
        messages = record.get("messages", [])
        batch_failed = any(m.get("failed") for m in messages)
        for m in messages:
            failed = bool(m.get("failed"))
            attempts.append(Attempt(str(m.get("body")), not failed and (report_failures or not batch_failed), failed))
    return attempts


def attempts_from_orders(records: list[dict]) -> list[Attempt]:
    """Attempts from the ``ORDER {json}`` lines of lesson 08's ``orders.process`` (one per message handled).

    A processed order counts as done: that holds when the handler returns its failures as
    ``batchItemFailures`` and the mapping reports them (``ReportBatchItemFailures``); otherwise a done
    order can still come back with its batch, and then it shows up handled more than once.
    """
    return [Attempt(str(r.get("body")), bool(r.get("ok")), not r.get("ok")) for r in records]


@dataclass
class BatchAccounting:
    """What became of every message sent: handled, in the DLQ, still in the queue, or lost.

    ``rows`` has one dict per message sent: body, attempts (times the function got it), successes
    (attempts that ended with the message deleted as done), failed (it failed itself at least once),
    outcome. ``left`` is how many messages the source queue still holds (visible or in flight).
    """

    rows: list[dict]
    left: int = 0

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row["outcome"]] = out.get(row["outcome"], 0) + 1
        return out

    @property
    def sent(self) -> int:
        return len(self.rows)

    @property
    def handled(self) -> int:
        return self.counts.get("handled", 0)

    @property
    def in_dlq(self) -> int:
        return self.counts.get("in the DLQ", 0)

    @property
    def lost(self) -> int:
        """Messages that are neither handled nor in the DLQ, beyond what the queue still holds."""
        return max(0, self.sent - self.handled - self.in_dlq - self.left)

    @property
    def all_accounted(self) -> bool:
        """sent = handled + in the DLQ + left, with nothing lost."""
        return self.lost == 0

    @property
    def handled_twice_or_more(self) -> list[str]:
        """Messages the function got more than once (their work was done again, or attempted again)."""
        return [row["body"] for row in self.rows if row["attempts"] > 1]

    @property
    def came_back_unfailed(self) -> list[str]:
        """Messages that came back although they never failed themselves: they paid for another's failure."""
        return [row["body"] for row in self.rows if row["attempts"] > 1 and not row["failed"]]

    def summary(self) -> str:
        mark = "✓ every message accounted for" if self.all_accounted else "✗ NOT every message accounted for"
        line = (
            f"{mark}: {self.sent} sent = {self.handled} handled + {self.in_dlq} in the DLQ + {self.left} left"
            f" in the queue, {self.lost} lost"
        )
        unfailed = len(self.came_back_unfailed)
        return line + (
            f"; {unfailed} came back although they had not failed" if unfailed else "; only failed messages came back"
        )

    def table(self) -> str:
        width = max([len("message")] + [len(row["body"]) for row in self.rows])
        lines = [f"{'message':<{width}} {'handled':>7}  outcome"]
        lines += [f"{row['body']:<{width}} {row['attempts']:>6}×  {row['outcome']}" for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def account_attempts(sent: list[str], attempts: list[Attempt], dlq: list[str], *, left: int = 0) -> BatchAccounting:
    """Reconcile the messages ``sent`` with the function's ``attempts``, the DLQ's bodies and the queue's depth."""
    seen = {body: [a for a in attempts if a.body == body] for body in sent}
    in_dlq = set(dlq)
    rows = []
    for body in sent:
        tries = seen[body]
        successes = sum(a.ok for a in tries)
        if body in in_dlq:
            outcome = "in the DLQ"
        elif successes:
            outcome = "handled"
        elif left:
            outcome = "not handled yet"
        elif tries:
            outcome = "lost (failed, deleted, not in the DLQ)"
        else:
            outcome = "never seen"
        rows.append(
            {
                "body": body,
                "attempts": len(tries),
                "successes": successes,
                "failed": any(a.failed for a in tries),
                "outcome": outcome,
            }
        )
    return BatchAccounting(rows, left=left)


def account(
    sent: list[str], records: list[dict], dlq: list[str], *, report_failures: bool, left: int = 0
) -> BatchAccounting:
    """:func:`account_attempts` for the recorder's BATCH records (see :func:`attempts_from_batches`)."""
    return account_attempts(sent, attempts_from_batches(records, report_failures=report_failures), dlq, left=left)


def account_orders(sent: list[str], records: list[dict], dlq: list[str], *, left: int = 0) -> BatchAccounting:
    """:func:`account_attempts` for the ORDER lines of ``orders.process`` (see :func:`attempts_from_orders`)."""
    return account_attempts(sent, attempts_from_orders(records), dlq, left=left)
