"""Where every delivery of lesson 06 ended up: the tally that says nothing was lost.

Two sums, both by webhook id:

- every request that reached the receiver = processed + left in a queue (the events DLQ, or not
  yet taken) + duplicates dropped (answered 200) + refused (4xx) + failed (5xx, which the sender
  retries);
- every event the service published = queued once by the receiver + given up by the service
  (its undeliverable queue).

An event is *lost* when it is in none of those places: published but never queued nor given up,
or queued (answered 202) but neither processed nor still in a queue. It is *twice* when it was
queued by two requests, or sits in two places at once. The notebook collects the ids from its own
record, the receiver's log and the queues; this module only adds them up. Given the worker
(``worker=``), the tally also says how it fared: every failure of its loop, and why it stopped if it
did, so a worker that died is never the silent reason for a lost event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from labkit.lessons.l06_webhooks.background import Background


@dataclass
class DeliveryTally:
    published: dict[str, str]  # webhook id -> label: every event the service published
    answers: list[tuple[int, str]]  # (status, webhook id) of every request the receiver answered
    processed: set[str]  # webhook ids the worker processed
    left: dict[str, set[str]] = field(default_factory=dict)  # place -> webhook ids found there
    worker: Background | None = None  # the worker that processed them: its failures, and why it stopped

    @classmethod
    def of(
        cls,
        published: dict[str, str],
        answers: Iterable[tuple[int, str]],
        processed: Iterable[str],
        left: dict[str, Iterable[str]] | None = None,
        worker: Background | None = None,
    ) -> DeliveryTally:
        places = {k: set(v) for k, v in (left or {}).items()}
        return cls(dict(published), list(answers), set(processed), places, worker)

    # -------------------------------------------------------------- the requests

    @property
    def queued(self) -> Counter[str]:
        """Webhook ids the receiver answered 202 (queued), with how many times."""
        return Counter(wid for status, wid in self.answers if status == 202)

    def _count(self, low: int, high: int) -> int:
        return sum(1 for status, _ in self.answers if low <= status <= high and status != 202)

    @property
    def duplicates(self) -> int:
        return self._count(200, 299)

    @property
    def refused(self) -> int:
        return self._count(400, 499)

    @property
    def failed(self) -> int:
        return self._count(500, 599)

    # -------------------------------------------------------------- where each id is

    def _places(self, webhook_id: str) -> list[str]:
        places = ["processed"] if webhook_id in self.processed else []
        return places + [p for p, ids in self.left.items() if webhook_id in ids]

    @property
    def lost(self) -> list[str]:
        """Labels (or ids) of events that are nowhere: the number the lesson wants at 0."""
        lost = [wid for wid in self.published if wid not in self.queued and not self._places(wid)]
        lost += [wid for wid in self.queued if not self._places(wid) and wid not in lost]
        return [self.published.get(wid, wid) for wid in lost]

    @property
    def twice(self) -> list[str]:
        """Events queued by two requests, or found in two places at once."""
        ids = {wid for wid, n in self.queued.items() if n > 1}
        ids |= {wid for wid in set(self.published) | set(self.queued) if len(self._places(wid)) > 1}
        return [self.published.get(wid, wid) for wid in sorted(ids)]

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, and the worker (if given) did not stop by itself."""
        return not self.lost and not self.twice and not (self.worker is not None and self.worker.stopped)

    def __str__(self) -> str:
        queued = set(self.queued)
        in_places = {p: len(ids & queued) for p, ids in self.left.items() if ids & queued}
        not_queued = {p: len(ids - queued) for p, ids in self.left.items() if ids - queued}
        processed = len(queued & self.processed)
        parts = [f"{processed} processed", *(f"{n} in {p}" for p, n in in_places.items())]
        parts += [
            f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''} dropped",
            f"{self.refused} refused",
        ]
        if self.failed:
            parts.append(f"{self.failed} failed (5xx)")
        events = [f"{len(queued & set(self.published))} queued by the receiver"]
        events += [f"{n} in {p}" for p, n in not_queued.items()]
        lines = [
            f"{len(self.answers)} requests reached the receiver = " + " + ".join(parts),
            f"{len(self.published)} events published = " + " + ".join(events),
            f"lost: {len(self.lost)}" + (f" ({', '.join(self.lost[:5])})" if self.lost else ""),
        ]
        if self.twice:
            lines.append(f"twice: {', '.join(self.twice[:5])}")
        if self.worker is not None:
            lines.append(self.worker.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)
