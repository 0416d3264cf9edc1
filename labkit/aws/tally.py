"""A tally that accounts for every message a queue demo sent: processed, still queued, or lost."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from labkit.aws.sqs import depth, peek_all


@dataclass
class TallyReport:
    """Where every message a demo sent ended up."""

    send_calls: int
    distinct: int
    deduplicated: int
    processed: int
    processed_twice: int
    in_queues: dict[str, int]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def accounted(self) -> int:
        return self.processed + sum(self.in_queues.values())

    def __str__(self) -> str:
        where = ", ".join(f"{n} in {q}" for q, n in self.in_queues.items()) or "none left in queues"
        lines = [
            f"{self.send_calls} sends → {self.distinct} distinct messages"
            + (f" ({self.deduplicated} dropped by FIFO deduplication)" if self.deduplicated else ""),
            f"  processed {self.processed}"
            + (f" (of which {self.processed_twice} more than once)" if self.processed_twice else "")
            + f"; still queued: {where}",
            f"  accounted for {self.accounted} of {self.distinct}; lost {len(self.missing)}"
            + (f": {', '.join(self.missing[:5])}" if self.missing else ""),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


class Tally:
    """Counts every message a demo sends and where it went: processed, still in a queue, or in a DLQ.

    Keyed by the MessageId SQS returns. A FIFO queue that drops a duplicate returns the
    original's MessageId, so the tally sees it as the same message. A message moved by the
    receive → send → delete fallback gets a new MessageId; ``moved`` links the two, and a message
    that comes back under an unknown MessageId is matched by its body.
    Thread-safe: consumer threads record into one tally.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.send_calls = 0
        self.bodies: dict[str, str] = {}  # MessageId -> body
        self.processed: dict[str, int] = {}  # MessageId -> times processed
        self._alias: dict[str, str] = {}  # new MessageId -> original

    def _key(self, message_id: str) -> str:
        while message_id in self._alias:
            message_id = self._alias[message_id]
        return message_id

    def sent(self, response: dict, body: str | None = None) -> dict:
        """Record a ``send_message`` or ``send_message_batch`` response; returns it unchanged."""
        with self._lock:
            if "Successful" in response or "Failed" in response:
                for entry in response.get("Successful", []):
                    self.send_calls += 1
                    self.bodies.setdefault(self._key(entry["MessageId"]), body or "")
            else:
                self.send_calls += 1
                self.bodies.setdefault(self._key(response["MessageId"]), body or "")
        return response

    def _resolve(self, message: dict) -> str:
        """The tally key of a received message: its MessageId, or for a message that came back under a new
        MessageId (moved by a redrive), the unprocessed message sent with the same body."""
        key = self._key(message["MessageId"])
        if key not in self.bodies:
            for candidate, body in self.bodies.items():
                if body and body == message.get("Body") and candidate not in self.processed:
                    self._alias[message["MessageId"]] = candidate
                    return candidate
        return key

    def done(self, message: dict) -> None:
        """Record that a received message was processed (call it when the handler succeeded)."""
        with self._lock:
            key = self._resolve(message)
            self.processed[key] = self.processed.get(key, 0) + 1

    def processed_were(self, message_ids) -> None:
        """Replace what was processed with an outside record: one MessageId per time a consumer processed it
        (e.g. the items consumers wrote to a results table), for consumers that run outside this kernel."""
        with self._lock:
            self.processed = {}
            for message_id in message_ids:
                key = self._key(message_id)
                self.processed[key] = self.processed.get(key, 0) + 1

    def moved(self, old_id: str, new_id: str) -> None:
        with self._lock:
            if old_id != new_id:
                self._alias[new_id] = old_id

    def reconcile(self, sqs, queues: dict[str, str], *, settle: float = 5.0, processed=None) -> TallyReport:
        """Look in each queue (``{label: url}``) without consuming, and account for every message sent.

        Messages in flight cannot be looked at: each queue is given up to ``settle`` seconds for
        them to become visible again (the demos use short visibility timeouts). ``processed``, for
        consumers outside this kernel, is a function that returns their record (a MessageId per time
        processed); it is read after the queues, so a message processed while they were looked at is
        found in one place or the other, never in neither.
        """
        where: dict[str, str] = {}
        for label, url in queues.items():
            deadline = time.monotonic() + settle
            while depth(sqs, url)[1] and time.monotonic() < deadline:
                time.sleep(0.25)
            for m in peek_all(sqs, url):
                with self._lock:
                    key = self._resolve(m)
                if key in self.bodies:
                    where.setdefault(key, label)
        if processed is not None:
            self.processed_were(processed())
        with self._lock:
            done = {k for k in self.processed if k in self.bodies}
            # A message both processed and still queued (a duplicate delivery) counts once, as processed.
            in_queues: dict[str, int] = {}
            for key, label in where.items():
                if key not in done:
                    in_queues[label] = in_queues.get(label, 0) + 1
            missing = [self.bodies[k] or k for k in self.bodies if k not in done and k not in where]
            return TallyReport(
                send_calls=self.send_calls,
                distinct=len(self.bodies),
                deduplicated=self.send_calls - len(self.bodies),
                processed=len(done),
                processed_twice=sum(1 for k in done if self.processed[k] > 1),
                in_queues=in_queues,
                missing=missing,
            )
