"""FIFO lanes: one lane per message group, each message a bar coloured by the consumer that processed it.

``LanesState`` is the plain state (events from a run, no widget code) with the questions a
learner asks of it: is every group in send order? did groups run in parallel? which consumer did
what? ``draw`` turns it into a matplotlib figure; ``FifoLanesView`` puts sliders (groups,
consumers) over it and re-runs the experiment when they change. The experiment is the notebook's
own function (its sends, and its consumer run in threads by ``run_consumers``): nothing here
touches a queue.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import Event, out_of_order, seq_of


@dataclass
class LanesState:
    """What one run of the lanes experiment did."""

    groups: int
    consumers: int
    events: list[Event] = field(default_factory=list)
    title: str = "FIFO lanes"

    def lanes(self) -> dict[str, list[Event]]:
        """Events per group, in the order they started."""
        out: dict[str, list[Event]] = {}
        for e in sorted(self.events, key=lambda e: e.start):
            out.setdefault(e.group, []).append(e)
        return dict(sorted(out.items()))

    def late(self) -> list[Event]:
        """Messages that finished after a later-sent message of their group (never in a FIFO group)."""
        return out_of_order(self.events)

    @property
    def in_order(self) -> bool:
        return not self.late()

    def max_parallel_groups(self) -> int:
        """The largest number of different groups being processed at the same moment."""
        best = 0
        for e in self.events:
            t = e.start + 1e-6
            best = max(best, len({o.group for o in self.events if o.start <= t < o.end}))
        return best

    def consumers_used(self) -> dict[int, int]:
        """How many messages each consumer processed."""
        out: dict[int, int] = {}
        for e in self.events:
            out[e.consumer] = out.get(e.consumer, 0) + 1
        return dict(sorted(out.items()))

    @property
    def seconds(self) -> float:
        return max((e.end for e in self.events), default=0.0)

    def summary(self) -> str:
        if not self.events:
            return f"{self.title}: no messages processed"
        late = self.late()
        order = "every group in send order" if not late else f"{len(late)} message(s) finished out of send order"
        line = (
            f"{self.title}: {len(self.events)} messages in {len(self.lanes())} group(s) "
            f"by {self.consumers} consumer(s) in {self.seconds:.2f} s; {order}"
        )
        if len(self.lanes()) > 1:
            line += f"; up to {self.max_parallel_groups()} group(s) in progress at once"
        return line


def draw(state: LanesState, ax=None):
    """Draw the lanes on ``ax`` (a new figure if None); returns the figure."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    lanes = state.lanes()
    by_consumer = len(lanes) == 1 and len(state.consumers_used()) > 1
    if by_consumer:  # one group (a standard queue): one row per consumer, so bars do not overlap
        lanes = {}
        for e in sorted(state.events, key=lambda e: e.start):
            lanes.setdefault(f"consumer {e.consumer}", []).append(e)
        lanes = dict(sorted(lanes.items()))
    if ax is None:
        fig = Figure(figsize=(8, 0.6 * max(len(lanes), 1) + 1.4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    import matplotlib

    colours = matplotlib.colormaps["tab10"].colors  # type: ignore[attr-defined]  # a ListedColormap
    late = {id(e) for e in state.late()}
    names = list(lanes)
    for row, group in enumerate(names):
        for e in lanes[group]:
            bad = id(e) in late
            ax.barh(
                row,
                e.end - e.start,
                left=e.start,
                height=0.6,
                color=colours[(e.consumer - 1) % len(colours)],
                edgecolor="red" if bad else "black",
                linewidth=2.5 if bad else 0.5,
            )
            ax.text((e.start + e.end) / 2, row, str(e.seq), ha="center", va="center", fontsize=8, color="white")
    ax.set_yticks(range(len(names)), [f"group {g}" if len(g) <= 2 else g for g in names])
    if by_consumer:
        order = " ".join(str(e.seq) for e in sorted(state.events, key=lambda e: e.end))
        ax.set_title(f"{state.title}: finish order {order}", fontsize="medium")
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the consumers started (number = position in send order)")
    handles = [Patch(color=colours[(c - 1) % len(colours)], label=f"consumer {c}") for c in state.consumers_used()]
    if state.late():
        handles.append(Patch(facecolor="white", edgecolor="red", linewidth=2.5, label="finished out of order"))
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    if not by_consumer:
        ax.set_title(state.title)
    fig.tight_layout()
    return fig


def png(state: LanesState) -> bytes:
    """The lanes as PNG bytes (for ``widgets.Image``: nothing is drawn into an Output widget)."""
    fig = draw(state)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def image(state: LanesState):
    """The lanes as an ``IPython.display.Image``: put it last in a cell to show it."""
    from IPython.display import Image

    return Image(png(state))


def work_time(body: str) -> float:
    """Simulated processing time: 40–160 ms, varying by message so consumers finish at different times."""
    return 0.04 + ((seq_of(body) * 7 + sum(map(ord, body))) % 5) * 0.03


class FifoLanesView:
    """Sliders for groups and consumers over a lanes chart; each change re-runs ``experiment(groups, consumers)``.

    The chart is PNG bytes in a ``widgets.Image`` and a ``widgets.Label`` carries the summary,
    so it renders the same in JupyterLab, Voila and nbval. Displaying the view also prints the summary.
    """

    def __init__(
        self,
        experiment: Callable[[int, int], LanesState],
        *,
        groups: int = 3,
        consumers: int = 2,
        max_groups: int = 5,
        max_consumers: int = 4,
    ) -> None:
        import ipywidgets as widgets

        self.experiment = experiment
        self.groups = widgets.IntSlider(
            value=groups, min=1, max=max_groups, description="groups", continuous_update=False
        )
        self.consumers = widgets.IntSlider(
            value=consumers, min=1, max=max_consumers, description="consumers", continuous_update=False
        )
        self.image = widgets.Image(format="png")
        self.label = widgets.Label()
        self.widget = widgets.VBox([widgets.HBox([self.groups, self.consumers]), self.image, self.label])
        self.history: list[LanesState] = []
        self.groups.observe(self._changed, names="value")
        self.consumers.observe(self._changed, names="value")
        self.refresh()

    @property
    def state(self) -> LanesState:
        return self.history[-1]

    def _changed(self, _change) -> None:
        self.refresh()

    def refresh(self) -> LanesState | None:
        self.label.value = f"running {self.groups.value} group(s) with {self.consumers.value} consumer(s)…"
        try:
            state = self.experiment(self.groups.value, self.consumers.value)
        except botocore.exceptions.ClientError as err:
            # A slider moved after the clean-up cell: say why nothing happens instead of hanging on "running…".
            code = error_code(err)
            self.label.value = f"the experiment failed ({code}); if the clean-up cell ran, run the lesson from the top"
            return None
        self.history.append(state)
        self.image.value = png(state)
        self.label.value = state.summary()
        return state

    def summary(self) -> str:
        return self.state.summary()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        print(self.summary())
