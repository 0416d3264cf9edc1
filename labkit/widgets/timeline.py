"""Invocation timeline: which messages went into which Lambda invocation, and how many ran at once.

- :class:`Invocation` and :class:`Timeline` are plain state (no widget code), built from what a
  handler recorded about itself (start, end, the messages of its batch);
- :func:`plot_timeline` draws a Gantt-style chart (one bar per invocation, stacked in "slots" so
  overlapping bars are invocations that ran at the same time) over a concurrency step line;
- :class:`TimelineView` puts sliders for batch size and maximum concurrency in front of a runner
  (a function that performs a real experiment and returns a Timeline) and shows the chart as PNG.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Invocation:
    """One handler invocation: one batch of messages."""

    request_id: str
    start: float  # epoch seconds, from the handler's clock
    end: float
    messages: tuple[str, ...]
    failed: tuple[str, ...] = ()
    receive_counts: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return len(self.messages)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Timeline:
    """The invocations of one experiment, and the settings it ran with."""

    invocations: list[Invocation] = field(default_factory=list)
    batch_size: int | None = None
    max_concurrency: int | None = None
    sent: int = 0

    @property
    def t0(self) -> float:
        return min((i.start for i in self.invocations), default=0.0)

    @property
    def duration(self) -> float:
        """Seconds from the first invocation's start to the last one's end."""
        if not self.invocations:
            return 0.0
        return max(i.end for i in self.invocations) - self.t0

    @property
    def message_count(self) -> int:
        return sum(i.size for i in self.invocations)

    @property
    def distinct_messages(self) -> set[str]:
        return {m for i in self.invocations for m in i.messages}

    @property
    def batch_sizes(self) -> list[int]:
        return [i.size for i in self.invocations]

    def concurrency_steps(self) -> list[tuple[float, int]]:
        """(seconds since t0, invocations running) after each start or end, in time order.

        An end and a start at the same instant count the end first: back-to-back is not overlap.
        """
        edges = sorted(
            [(i.start, 1) for i in self.invocations] + [(i.end, -1) for i in self.invocations],
            key=lambda e: (e[0], e[1]),
        )
        running, steps = 0, []
        for when, delta in edges:
            running += delta
            steps.append((when - self.t0, running))
        return steps

    @property
    def peak_concurrency(self) -> int:
        return max((n for _, n in self.concurrency_steps()), default=0)

    def slots(self) -> list[int]:
        """A row for each invocation (same order) such that invocations in one row never overlap."""
        order = sorted(range(len(self.invocations)), key=lambda k: self.invocations[k].start)
        row_free_at: list[float] = []
        rows = [0] * len(self.invocations)
        for k in order:
            inv = self.invocations[k]
            for r, free_at in enumerate(row_free_at):
                if free_at <= inv.start:
                    rows[k], row_free_at[r] = r, inv.end
                    break
            else:
                rows[k] = len(row_free_at)
                row_free_at.append(inv.end)
        return rows

    def summary(self) -> str:
        """One line: what ran, in how many invocations, how many at once, how long."""
        if not self.invocations:
            return "no invocations recorded"
        sizes = self.batch_sizes
        settings = []
        if self.batch_size is not None:
            settings.append(f"BatchSize {self.batch_size}")
        if self.max_concurrency is not None:
            settings.append(f"MaximumConcurrency {self.max_concurrency}")
        head = f"{', '.join(settings)}: " if settings else ""
        failing = sum(1 for i in self.invocations if i.failed)
        return (
            f"{head}{self.message_count} messages in {len(self.invocations)} invocations "
            f"(batch sizes {min(sizes)}–{max(sizes)}), at most {self.peak_concurrency} at once, "
            f"{self.duration:.1f} s" + (f"; {failing} with failed messages" if failing else "")
        )

    def __str__(self) -> str:
        return self.summary()


def message_range(messages: tuple[str, ...]) -> str:
    """A short label for a batch of numbered messages: "order-005".."order-009" → "005–009" ("" if not numbered)."""
    numbers = sorted(m.rsplit("-", 1)[-1] for m in messages if "-" in m and m.rsplit("-", 1)[-1].isdigit())
    if not numbers or len(numbers) != len(messages):
        return ""
    return numbers[0] if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"


def plot_timeline(timeline: Timeline, *, title: str | None = None, label_messages: bool = True):
    """A Gantt-style chart of ``timeline``; returns the matplotlib Figure (not shown)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 4.2), layout="constrained")
    gantt, conc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    rows = timeline.slots()
    span = max(timeline.duration, 1e-9)
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2"]
    for k, (inv, row) in enumerate(zip(timeline.invocations, rows, strict=True)):
        left = inv.start - timeline.t0
        colour = "#d62728" if inv.failed else colours[k % len(colours)]
        gantt.barh(row, inv.duration, left=left, height=0.7, color=colour, alpha=0.85, edgecolor="black", lw=0.5)
        if label_messages:
            text = f"#{k + 1} · {inv.size} msg" + (f" · {len(inv.failed)} failed" if inv.failed else "")
            span_label = message_range(inv.messages)
            if span_label:
                text += f"\n{span_label}"
            if inv.duration >= 0.25 * span:  # room inside the bar
                gantt.text(left + inv.duration / 2, row, text, ha="center", va="center", fontsize=7, color="white")
            else:
                gantt.text(left + inv.duration + 0.01 * span, row, text, ha="left", va="center", fontsize=7)
    n_rows = max(rows, default=0) + 1
    gantt.set_yticks(range(n_rows), [f"slot {r + 1}" for r in range(n_rows)])
    gantt.set_ylim(n_rows - 0.5, -0.5)
    gantt.set_ylabel("running at once")
    gantt.set_title(textwrap.fill(title or timeline.summary(), width=110), fontsize=9)
    steps = timeline.concurrency_steps()
    if steps:
        xs = [0.0] + [t for t, _ in steps]
        ys = [0] + [n for _, n in steps]
        conc.step(xs, ys, where="post", color="black")
        conc.fill_between(xs, ys, step="post", alpha=0.2, color="black")
    if timeline.max_concurrency is not None:
        conc.axhline(timeline.max_concurrency, ls="--", color="#d62728", lw=1, label="MaximumConcurrency")
        conc.legend(loc="upper right", fontsize=7)
    conc.set_ylabel("concurrent")
    conc.yaxis.set_major_locator(MaxNLocator(integer=True))
    conc.set_xlabel("seconds since the first invocation started")
    conc.set_ylim(0, max(timeline.peak_concurrency, timeline.max_concurrency or 0) + 1)
    return fig


def png_bytes(fig) -> bytes:
    """Render a matplotlib Figure to PNG bytes (for ``widgets.Image`` or ``IPython.display.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


class TimelineView:
    """Sliders for BatchSize and MaximumConcurrency in front of a real experiment.

    ``runner(batch_size, max_concurrency)`` performs the experiment and returns a :class:`Timeline`.
    Releasing a slider re-runs it (``continuous_update=False``) and redraws the chart; the summary
    line under the chart is also printed whenever the view is displayed or re-run from code.
    """

    def __init__(
        self,
        runner: Callable[[int, int], Timeline],
        *,
        batch_size: int = 5,
        max_concurrency: int = 2,
        batch_sizes: tuple[int, int] = (1, 10),
        concurrencies: tuple[int, int] = (2, 10),
    ) -> None:
        import ipywidgets as widgets

        self.runner = runner
        self.timeline: Timeline | None = None
        self.history: list[Timeline] = []
        self.batch_size = widgets.IntSlider(
            value=batch_size,
            min=batch_sizes[0],
            max=batch_sizes[1],
            description="BatchSize",
            continuous_update=False,
        )
        self.max_concurrency = widgets.IntSlider(
            value=max_concurrency,
            min=concurrencies[0],
            max=concurrencies[1],
            description="MaxConcurrency",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.image = widgets.Image(format="png")
        self.status = widgets.Label()
        self.box = widgets.VBox([widgets.HBox([self.batch_size, self.max_concurrency]), self.image, self.status])
        self.batch_size.observe(self._on_change, names="value")
        self.max_concurrency.observe(self._on_change, names="value")

    def _on_change(self, _change=None) -> None:
        self.refresh()

    def refresh(self) -> Timeline:
        """Run the experiment with the sliders' values and redraw."""
        self.status.value = (
            f"running with BatchSize {self.batch_size.value}, MaxConcurrency {self.max_concurrency.value}…"
        )
        try:
            timeline = self.runner(self.batch_size.value, self.max_concurrency.value)
        except Exception as err:  # keep the widget alive; say what went wrong
            self.status.value = f"experiment failed: {type(err).__name__}: {err}"
            return self.timeline or Timeline()
        self.timeline = timeline
        self.history.append(timeline)
        self.image.value = png_bytes(plot_timeline(timeline))
        self.status.value = timeline.summary()
        return timeline

    def run(self, batch_size: int | None = None, max_concurrency: int | None = None) -> Timeline:
        """Set the sliders from code (one experiment), and print the summary line."""
        changed = False
        for slider, value in ((self.batch_size, batch_size), (self.max_concurrency, max_concurrency)):
            if value is not None and value != slider.value:
                slider.unobserve(self._on_change, names="value")
                slider.value = value
                slider.observe(self._on_change, names="value")
                changed = True
        timeline = self.refresh() if changed or self.timeline is None else self.timeline
        print(self.status.value)
        return timeline

    def summary(self) -> str:
        return self.status.value

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.timeline is None:
            self.refresh()
        display(self.box)
        print(self.status.value)


def invocations_from_records(records: list[dict], run: str | None = None) -> list[Invocation]:
    """Turn the batch_recorder handler's BATCH records into :class:`Invocation` rows.

    With ``run`` given, only messages whose body starts with ``run`` count (one experiment of several).
    """
    rows = []
    for rec in records:
        messages = [m for m in rec.get("messages", []) if run is None or str(m.get("body", "")).startswith(run)]
        if not messages:
            continue
        rows.append(
            Invocation(
                request_id=rec.get("request_id", ""),
                start=float(rec["start"]),
                end=float(rec["end"]),
                messages=tuple(m["body"] for m in messages),
                failed=tuple(m["body"] for m in messages if m.get("failed")),
                receive_counts=tuple(int(m.get("receive_count", 1)) for m in messages),
            )
        )
    return sorted(rows, key=lambda r: r.start)
