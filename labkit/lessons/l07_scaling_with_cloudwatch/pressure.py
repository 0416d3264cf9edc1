"""The live pressure gauge: queue depth and fleet size of a running scaling demo, as CloudWatch reports them.

The state is a ``labkit.lessons.l07_scaling_with_cloudwatch.PressureHistory``; ``PressureGauge`` renders it
to PNG into a ``widgets.Image``. ``LiveRun.until_settled(gauge=...)`` calls
``refresh()`` from the notebook's event loop while the run goes on, so the
picture moves while the cell waits.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory


def draw_history(history: PressureHistory, *, high: float, low: float, fig=None, prediction=None, offset: float = 0.0):
    """Two panels over time: the queue's AWS/SQS metrics with the alarm thresholds (shaded where the
    visible count is past one), and the group's desired capacity with its instances in service (each runs the consumer).

    Without ``fig``, the figure is made with pyplot, so a notebook shows it inline.
    """
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(9, 4.6), dpi=80)
    fig.clear()
    ax_queue, ax_fleet = fig.subplots(2, 1, sharex=True)
    history = history.snapshot()  # the gauge draws while the sampler thread adds to it
    t = history.t
    ax_queue.plot(t, history.visible, color="tab:red", label="visible (AWS/SQS)")
    ax_queue.plot(t, history.in_flight, color="tab:orange", label="not visible: in flight")
    ax_queue.axhline(high, color="grey", linestyle="--", linewidth=0.8)
    ax_queue.axhline(low, color="grey", linestyle=":", linewidth=0.8)
    if t:
        for flags, colour in ((history.above(high), "tab:red"), (history.below(low), "tab:blue")):
            ax_queue.fill_between(
                t, 0, 1, where=flags, color=colour, alpha=0.08, transform=ax_queue.get_xaxis_transform()
            )
    ax_fleet.step(t, history.working, where="post", color="tab:blue", label="instances InService (each one a consumer)")
    ax_fleet.step(
        t,
        history.desired,
        where="post",
        color="tab:blue",
        linestyle="--",
        linewidth=0.8,
        label="desired (AWS/AutoScaling)",
    )
    if prediction is not None:
        # A SimResult: one value per second, starting at ``offset`` seconds into the run.
        predicted_t = offset + np.arange(len(prediction.visible))
        ax_queue.plot(predicted_t, prediction.visible, color="black", linestyle=":", label="simulator's prediction")
        ax_fleet.step(predicted_t, prediction.running, where="post", color="black", linestyle=":", label="predicted")
    ax_queue.set_ylabel("messages")
    ax_queue.legend(loc="upper right", fontsize="small")
    ax_fleet.set_ylabel("instances")
    ax_fleet.set_xlabel("seconds")
    ax_fleet.set_ylim(0, max([*history.desired, *history.working, 1]) + 1)
    ax_fleet.legend(loc="upper right", fontsize="small")
    ax_queue.set_title(
        f"shaded: visible above {high:g} (red) or below {low:g} (blue), the thresholds of the two alarms",
        fontsize="small",
    )
    fig.tight_layout()
    return fig


class PressureGauge:
    def __init__(self, history: PressureHistory, *, high: float, low: float):
        import ipywidgets as w
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.history = history
        self.options: dict[str, Any] = {"high": high, "low": low}
        self.fig = Figure(figsize=(9, 4.6), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.image = w.Image(format="png", layout=w.Layout(width="720px"))
        self.label = w.HTML()
        self.widget = w.VBox([self.image, self.label])
        self._drawn = -1

    def refresh(self) -> None:
        if len(self.history) == self._drawn:
            return
        self._drawn = len(self.history)
        draw_history(self.history, fig=self.fig, **self.options)
        buffer = io.BytesIO()
        self.canvas.print_png(buffer)
        self.image.value = buffer.getvalue()
        self.label.value = f"<code>{self.history.summary()}</code>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self.refresh()
        display(self.widget)
