"""Lesson 04's throughput measurement: single calls vs batches, standard vs FIFO, as a table and a chart.

The notebook sends, receives and deletes; :class:`Throughput` only keeps the time each action took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ACTIONS = ("send", "receive", "delete")


@dataclass
class Throughput:
    """Messages per second for each action, measured with single calls or batches of 10.

    The notebook makes the calls; it wraps each one in ``with result.timing("send"): ...`` (or
    "receive", "delete"), which adds the seconds the call took to that action.
    """

    queue: str  # "standard" or "FIFO"
    mode: str  # "single" or "batch of 10"
    messages: int
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0.0))  # action -> seconds

    @contextmanager
    def timing(self, action: str) -> Iterator[None]:
        """Add the time the ``with`` block takes to ``action``."""
        if action not in ACTIONS:
            raise ValueError(f"time one of {', '.join(ACTIONS)}, not {action!r}")
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[action] += time.perf_counter() - t

    def rate(self, action: str) -> float:
        return self.messages / self.seconds[action] if self.seconds[action] else float("inf")

    @property
    def calls(self) -> dict[str, int]:
        per = 1 if self.mode == "single" else 10
        return {a: -(-self.messages // per) for a in self.seconds}


def throughput_table(results: list[Throughput]) -> str:
    """A plain-text table: messages per second per action, and batch ÷ single per queue type."""
    lines = [f"{'queue':<9} {'calls':<12}" + "".join(f"{a + ' msg/s':>15}" for a in ACTIONS)]
    for r in results:
        lines.append(f"{r.queue:<9} {r.mode:<12}" + "".join(f"{r.rate(a):>15,.0f}" for a in ACTIONS))
    for queue in dict.fromkeys(r.queue for r in results):
        single = next((r for r in results if r.queue == queue and r.mode == "single"), None)
        batch = next((r for r in results if r.queue == queue and r.mode != "single"), None)
        if single and batch:
            ratios = "".join(f"{batch.rate(a) / single.rate(a):>14.1f}×" for a in ACTIONS)
            lines.append(f"{queue:<9} {'batch/single':<12}" + ratios)
    return "\n".join(lines)


def throughput_chart(results: list[Throughput], *, aws_fifo_quotas: bool = True):
    """Grouped bars: messages per second for each action, single calls vs batches, per queue type.

    With ``aws_fifo_quotas`` the FIFO panel also marks AWS's FIFO quotas (300 and 3,000 messages per second per action).
    """
    import matplotlib.pyplot as plt

    queues = list(dict.fromkeys(r.queue for r in results))
    fig, axes = plt.subplots(1, len(queues), figsize=(4.2 * len(queues), 3.4), sharey=True, squeeze=False)
    for ax, queue in zip(axes[0], queues, strict=True):
        rows = [r for r in results if r.queue == queue]
        width = 0.8 / len(rows)
        for i, r in enumerate(rows):
            xs = [n + i * width for n in range(len(ACTIONS))]
            bars = ax.bar(xs, [r.rate(a) for a in ACTIONS], width, label=r.mode)
            ax.bar_label(bars, fmt="{:,.0f}", fontsize=7)
        single = next((r for r in rows if r.mode == "single"), None)
        batch = next((r for r in rows if r.mode != "single"), None)
        ax.set_xticks([n + 0.4 - width / 2 for n in range(len(ACTIONS))], ACTIONS)
        title = f"{queue} queue"
        if single and batch:
            ratio = sum(batch.rate(a) for a in ACTIONS) / sum(single.rate(a) for a in ACTIONS)
            title += f": batches ≈ {ratio:.0f}× faster"
        ax.set_title(title, fontsize="medium")
        if queue == "FIFO" and aws_fifo_quotas:
            # AWS's documented FIFO quotas per API action, for comparison (not enforced by emulators).
            ax.axhline(300, color="grey", linestyle=":", linewidth=1)
            ax.axhline(3000, color="grey", linestyle="--", linewidth=1)
            box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}
            for y, label in ((300, "AWS FIFO quota: 300/s"), (3000, "AWS FIFO quota with batches: 3,000/s")):
                ax.text(2.95, y, label, fontsize=7, ha="right", va="bottom", color="dimgrey", bbox=box)
        ax.legend(fontsize="small", loc="upper left")
    top = max(max(r.rate(a) for a in ACTIONS) for r in results)
    axes[0][0].set_ylim(0, max(top, 3000) * 1.35)  # room for the legend and bar labels
    axes[0][0].set_ylabel("messages per second (this machine)")
    fig.tight_layout()
    return fig
