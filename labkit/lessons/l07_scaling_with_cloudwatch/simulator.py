"""Lesson 07's simulator widget: sliders over the model in ``sim.py``, one chart of a simulated day.

``SimulatorState`` holds the settings and the latest result (no widget code,
tested without a browser); ``SimulatorView`` puts sliders over it and redraws
a reused matplotlib figure into a ``widgets.Image`` on every change.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field, replace

import numpy as np

from labkit.lessons.l07_scaling_with_cloudwatch.sim import (
    Rule,
    SimConfig,
    SimpleRule,
    SimResult,
    StepRule,
    TargetTrackingRule,
    simulate,
)

MINUTE = 60


@dataclass
class SimulatorState:
    """The knobs a learner turns, and the simulated day they produce."""

    pattern: str = "spike"
    peak_rate: float = 200.0
    rule: str = "simple"  # "simple", "step" or "target"
    high: float = 1000.0
    low: float = 100.0
    scale_out: int = 5
    target_backlog: float = 1200.0
    cooldown_s: int = 300
    boot_s: int = 120
    metric_delay_s: int = 0
    watch_in_flight: bool = False
    base: SimConfig = field(default_factory=SimConfig)
    result: SimResult | None = None

    def make_rule(self) -> Rule:
        """The rule the knobs describe: the starting rule as simple or step policies, or target tracking."""
        metric = "backlog" if self.watch_in_flight else "visible"
        if self.rule == "simple":
            return SimpleRule(high=self.high, low=self.low, scale_out=self.scale_out, metric=metric)
        if self.rule == "step":
            # +scale_out up to as far again past the threshold, twice that beyond; one instance out below.
            steps = ((0, self.high, self.scale_out), (self.high, None, 2 * self.scale_out))
            return StepRule(high=self.high, low=self.low, out_steps=steps, in_steps=((None, 0, -1),), metric=metric)
        return TargetTrackingRule(backlog_per_instance=self.target_backlog, metric=metric)

    def config(self) -> SimConfig:
        rule = self.make_rule()
        return replace(
            self.base,
            rule=rule,
            pattern=self.pattern,
            peak_rate=self.peak_rate,
            cooldown_s=self.cooldown_s,
            boot_s=self.boot_s,
            metric_delay_s=self.metric_delay_s,
        )

    def run(self, **changes) -> SimResult:
        for name, value in changes.items():
            if not hasattr(self, name) or name in ("base", "result"):
                raise AttributeError(f"no setting {name!r}")
            setattr(self, name, value)
        self.result = simulate(self.config())
        return self.result


class DayChart:
    """A three-panel figure of a simulated day (queue, fleet, wait), redrawn fast enough for a slider.

    The axes have fixed limits (symmetric-log scales for the queue and the wait, which span
    several orders of magnitude), so the frame, ticks and labels are rendered once; a redraw
    only restores that background and draws the changed lines on it (blitting).
    """

    QUEUE_MAX = 2_000_000  # messages
    WAIT_MAX = 24 * 60  # minutes
    FLEET_MAX = 21

    def __init__(self, width: float = 9.0, height: float = 5.6):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(width, height), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax_queue, self.ax_fleet, self.ax_wait = self.fig.subplots(3, 1, sharex=True)
        self.hours = np.arange(24 * 60) / 60
        # Colours are named in the titles: legends would cost more than the lines.
        self.ax_queue.set_title(
            "queue: visible (red), in flight (orange); thresholds dashed", fontsize="small", loc="left"
        )
        self.ax_queue.set_yscale("symlog", linthresh=10)
        self.ax_queue.set_ylim(0, self.QUEUE_MAX)
        self.ax_queue.set_ylabel("messages")
        self.ax_fleet.set_title("fleet: running (blue), booting (cyan)", fontsize="small", loc="left")
        self.ax_fleet.set_ylim(0, self.FLEET_MAX)
        self.ax_fleet.set_ylabel("instances")
        self.ax_wait.set_title("wait of a message arriving then", fontsize="small", loc="left")
        self.ax_wait.set_yscale("symlog", linthresh=1)
        self.ax_wait.set_ylim(0, self.WAIT_MAX)
        self.ax_wait.set_ylabel("minutes")
        self.ax_wait.set_xlabel("hour of the simulated day")
        self.ax_wait.set_xlim(0, 24)
        self.ax_wait.set_xticks(range(0, 25, 3))

        def line(ax, colour, **style):
            return ax.plot([], [], color=colour, animated=True, **style)[0]

        self.lines = {
            "visible": line(self.ax_queue, "tab:red"),
            "in_flight": line(self.ax_queue, "tab:orange"),
            "high": line(self.ax_queue, "grey", linestyle="--", linewidth=0.8),
            "low": line(self.ax_queue, "grey", linestyle=":", linewidth=0.8),
            "running": line(self.ax_fleet, "tab:blue", drawstyle="steps-post"),
            "booting": line(self.ax_fleet, "tab:cyan", drawstyle="steps-post"),
            "wait": line(self.ax_wait, "tab:purple"),
        }
        self.fig.tight_layout()
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def draw(self, result: SimResult) -> bytes:
        """Set the lines (per-minute maxima, so spikes stay visible) and return PNG bytes."""
        n = len(result.visible) // MINUTE * MINUTE

        def per_minute(values):
            return np.asarray(values[:n], dtype=float).reshape(-1, MINUTE).max(axis=1)

        hours = self.hours[: n // MINUTE]
        rule = result.config.rule
        series = {
            "visible": per_minute(result.visible),
            "in_flight": per_minute(result.in_flight),
            "running": per_minute(result.running),
            "booting": per_minute(result.booting),
            "wait": per_minute(result.wait_s) / 60,
        }
        for name, values in series.items():
            self.lines[name].set_data(hours, values)
        for name in ("high", "low"):
            value = getattr(rule, name, None)
            self.lines[name].set_data([0, 24], [value, value]) if value is not None else self.lines[name].set_data(
                [], []
            )
        return self.png()

    def png(self) -> bytes:
        """Blit the lines onto the saved background and encode with Pillow's fastest PNG setting."""
        from PIL import Image

        self.canvas.restore_region(self.background)
        for line in self.lines.values():
            line.axes.draw_artist(line)
        image = Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


class SimulatorView:
    """Sliders → SimulatorState.run → DayChart.draw → widgets.Image, plus a one-line summary."""

    def __init__(self, state: SimulatorState | None = None):
        import ipywidgets as w

        self.state = state or SimulatorState()
        self.chart = DayChart()
        s = self.state
        style = {"description_width": "140px"}
        layout = w.Layout(width="420px")

        def slider(cls, value, lo, hi, step, description):
            return cls(
                value=value,
                min=lo,
                max=hi,
                step=step,
                description=description,
                continuous_update=False,
                style=style,
                layout=layout,
            )

        self.controls = {
            "pattern": w.Dropdown(
                options=["steady", "spike", "daily"], value=s.pattern, description="arrivals", style=style
            ),
            "peak_rate": slider(w.IntSlider, s.peak_rate, 20, 400, 10, "peak msg/s"),
            "rule": w.ToggleButtons(
                options=[("simple", "simple"), ("step", "step"), ("target tracking", "target")], value=s.rule
            ),
            "high": slider(w.IntSlider, s.high, 200, 5000, 100, "scale out above"),
            "low": slider(w.IntSlider, s.low, 0, 1000, 50, "scale in below"),
            "scale_out": slider(w.IntSlider, s.scale_out, 1, 10, 1, "instances added"),
            "watch_in_flight": w.Checkbox(value=s.watch_in_flight, description="count in-flight messages too"),
            "target_backlog": slider(w.IntSlider, s.target_backlog, 100, 5000, 100, "target backlog/inst."),
            "cooldown_s": slider(w.IntSlider, s.cooldown_s, 0, 900, 60, "cooldown (s, simple)"),
            "boot_s": slider(w.IntSlider, s.boot_s, 0, 600, 30, "boot time (s)"),
            "metric_delay_s": slider(w.IntSlider, s.metric_delay_s, 0, 600, 60, "metric delay (s)"),
        }
        self.image = w.Image(format="png", layout=w.Layout(width="720px"))
        self.summary = w.HTML()
        for name, control in self.controls.items():
            control.observe(self._changed, names="value")
            control.name_in_state = name
        left = w.VBox(list(self.controls.values()))
        self.widget = w.HBox([left, w.VBox([self.image, self.summary])])
        self.redraw()

    def _changed(self, change) -> None:
        self.redraw(**{change["owner"].name_in_state: change["new"]})

    def redraw(self, **changes) -> str:
        result = self.state.run(**changes)
        self.image.value = self.chart.draw(result)
        line = result.summary()
        self.summary.value = f"<b>{html.escape(result.config.rule.describe())}</b><br>{html.escape(line)}"
        return line

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        if self.state.result is not None:
            print(self.state.result.summary())
