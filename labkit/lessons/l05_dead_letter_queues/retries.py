"""Retries seen from the consumer: each receive of a message, and a chart of them (lessons 05 and 06)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Attempt:
    """One receive of one message by a consumer: when, which receive it was, and how the handler did."""

    seconds: float
    body: str
    receive_count: int
    ok: bool
    note: str = ""


def retry_chart(
    series: dict[str, list[Attempt]], *, max_receive_count: int | None = None, without_dlq: Iterable[str] = ()
):
    """ApproximateReceiveCount over time, one panel per series (e.g. "with a DLQ", "without a DLQ").

    Green dots are successful receives, red crosses failed ones. Panels not named in ``without_dlq``
    get a dashed line at ``max_receive_count`` and "→ DLQ" after a message whose last receive failed there.
    """
    import matplotlib.pyplot as plt

    without = set(without_dlq)
    fig, axes = plt.subplots(1, len(series), figsize=(4.6 * len(series), 3.2), sharey=True, squeeze=False)
    top = max((a.receive_count for attempts in series.values() for a in attempts), default=1)
    for ax, (label, attempts) in zip(axes[0], series.items(), strict=True):
        bodies = list(dict.fromkeys(a.body for a in attempts))
        failing = [b for b in bodies if any(not a.ok for a in attempts if a.body == b)]
        for n, body in enumerate(failing):
            mine = [a for a in attempts if a.body == body]
            ax.plot([a.seconds for a in mine], [a.receive_count for a in mine], color=f"C{n}", alpha=0.6)
            short = body if len(body) <= 22 else body[:20] + "…"
            last = mine[-1]
            note = short
            if max_receive_count and label not in without and not last.ok and last.receive_count >= max_receive_count:
                note += "  → DLQ"
            ax.annotate(
                note,
                (last.seconds, last.receive_count),
                fontsize=7,
                xytext=(-4, 6 + 10 * n),
                textcoords="offset points",
            )
        for a in attempts:
            ax.plot(a.seconds, a.receive_count, "o" if a.ok else "x", color="green" if a.ok else "red", markersize=7)
        good = sum(1 for b in bodies if b not in failing)
        if good:
            ax.annotate(
                f"{good} handled on the first receive", (0, 1), fontsize=7, xytext=(6, -12), textcoords="offset points"
            )
        if max_receive_count and label not in without:
            ax.axhline(max_receive_count, color="grey", linestyle="--", linewidth=1)
            ax.text(0, max_receive_count + 0.1, f"maxReceiveCount = {max_receive_count}", fontsize=7, color="dimgrey")
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("seconds since the consumer started")
        ax.set_ylim(0, top + 1.5)
        ax.margins(x=0.25)
        ax.set_xlim(left=-0.2)
    axes[0][0].set_ylabel("ApproximateReceiveCount")
    axes[0][0].plot([], [], "o", color="green", label="handled, deleted")
    axes[0][0].plot([], [], "x", color="red", label="handler failed")
    axes[0][0].legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    return fig
