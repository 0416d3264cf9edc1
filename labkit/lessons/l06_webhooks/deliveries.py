"""The delivery timeline of lesson 06: every webhook attempt over time, one row per event.

The state is the sender's log (a list of ``labkit.lessons.l06_webhooks.Attempt``); ``delivery_rows`` turns
it into plain rows (testable without matplotlib), ``delivery_chart`` draws them, and
``delivery_summary`` is the one-line text a reader without pictures gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MARKERS = {"delivered": ("o", "tab:green"), "retry": ("x", "tab:red"), "dead-lettered": ("X", "black")}


@dataclass(frozen=True)
class Row:
    """One event's attempts: their times, statuses and outcomes, in order."""

    label: str
    webhook_id: str
    times: tuple[float, ...]
    statuses: tuple[str, ...]
    outcomes: tuple[str, ...]

    @property
    def final(self) -> str:
        return self.outcomes[-1] if self.outcomes else "pending"


def delivery_rows(log: Iterable, *, since: float = 0.0) -> list[Row]:
    """Group attempts by webhook id (and endpoint), in the order the events were first tried."""
    grouped: dict[tuple[str, str], list] = {}
    for a in log:
        if a.seconds >= since:
            grouped.setdefault((a.webhook_id, a.endpoint), []).append(a)
    rows = []
    for (webhook_id, _), attempts in grouped.items():
        attempts.sort(key=lambda a: a.number)
        rows.append(
            Row(
                attempts[0].label,
                webhook_id,
                tuple(round(a.seconds - since, 3) for a in attempts),
                tuple(str(a.status) if a.status is not None else "no answer" for a in attempts),
                tuple(a.outcome for a in attempts),
            )
        )
    return rows


def delivery_summary(log: Iterable, *, since: float = 0.0) -> str:
    rows = delivery_rows(log, since=since)
    attempts = sum(len(r.times) for r in rows)
    finals = [r.final for r in rows]
    retried = sum(1 for r in rows if r.final == "delivered" and len(r.times) > 1)
    return (
        f"{len(rows)} events, {attempts} attempts: {finals.count('delivered')} delivered "
        f"({retried} after retries), {finals.count('dead-lettered')} dead-lettered, "
        f"{finals.count('retry') + finals.count('pending')} still pending"
    )


def delivery_chart(
    log: Iterable,
    *,
    since: float = 0.0,
    down: Sequence[tuple[float, float]] = (),
    title: str = "webhook deliveries",
):
    """Attempts over time, one row per event: ● delivered, × failed (retried later), ✖ given up → DLQ.

    ``down`` shades the intervals (seconds on the same clock as the log) when the receiver was down.
    """
    import matplotlib.pyplot as plt

    rows = delivery_rows(log, since=since)
    fig, ax = plt.subplots(figsize=(9, 0.42 * max(len(rows), 3) + 1.4))
    for start, end in down:
        ax.axvspan(start - since, end - since, color="tab:red", alpha=0.08)
        ax.text(start - since, -0.55, " receiver down", color="tab:red", fontsize=8, va="top")
    for y, row in enumerate(rows):
        ax.plot(row.times, [y] * len(row.times), color="grey", linewidth=0.8, zorder=1)
        for t, outcome in zip(row.times, row.outcomes, strict=True):
            marker, colour = MARKERS.get(outcome, ("o", "grey"))
            ax.plot(t, y, marker, color=colour, markersize=8, zorder=2)
        end_note = {"delivered": f"{row.statuses[-1]}", "dead-lettered": "→ DLQ"}.get(row.final, "…")
        ax.annotate(
            f"{end_note}  ({len(row.times)} attempt{'s' if len(row.times) > 1 else ''})",
            (row.times[-1], y),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
    ax.set_ylim(-0.9, len(rows) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    last = max((r.times[-1] for r in rows), default=1.0)
    ax.set_xlim(min(0.0, *(s - since for s, _ in down)) - 0.3, last * 1.22 + 0.6)  # room for the end notes
    for outcome, (marker, colour) in MARKERS.items():
        label = {"retry": "failed, retried later", "dead-lettered": "given up → DLQ"}.get(outcome, outcome)
        ax.plot([], [], marker, color=colour, label=label, linestyle="none")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return fig
