"""Lesson 07's simulator widget: sliders over ``labkit.sim``, one chart of a simulated day.

``SimulatorState`` holds the settings and the latest result (no widget code,
tested without a browser); ``SimulatorView`` puts sliders over it and redraws
a reused matplotlib figure into a ``widgets.Image`` on every change.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import numpy as np

from labkit.sim import SimConfig, SimResult, StepRule, TargetTrackingRule, simulate

MINUTE = 60


@dataclass
class SimulatorState:
    """The knobs a learner turns, and the simulated day they produce."""

    pattern: str = "spike"
    peak_rate: float = 200.0
    rule: str = "step"  # "step" or "target"
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

    def config(self) -> SimConfig:
        if self.rule == "step":
            rule = StepRule(
                high=self.high,
                low=self.low,
                scale_out=self.scale_out,
                metric="backlog" if self.watch_in_flight else "visible",
            )
        else:
            rule = TargetTrackingRule(backlog_per_instance=self.target_backlog)
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
    """A reusable three-panel figure of a simulated day (queue, fleet, wait), rendered to PNG."""

    def __init__(self, width: float = 9.0, height: float = 5.6):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(width, height), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.title = self.fig.suptitle("", fontsize="medium")
        self.ax_queue, self.ax_fleet, self.ax_wait = self.fig.subplots(3, 1, sharex=True)
        hours = np.arange(24 * 60) / 60
        self.hours = hours
        (self.visible,) = self.ax_queue.plot(hours, hours * 0, color="tab:red", label="visible")
        (self.in_flight,) = self.ax_queue.plot(hours, hours * 0, color="tab:orange", label="in flight")
        self.high = self.ax_queue.axhline(1000, color="grey", linestyle="--", linewidth=0.8)
        self.low = self.ax_queue.axhline(100, color="grey", linestyle=":", linewidth=0.8)
        self.ax_queue.set_ylabel("messages")
        self.ax_queue.legend(loc="upper right", fontsize="small")
        (self.running,) = self.ax_fleet.step(hours, hours * 0, color="tab:blue", where="post", label="running")
        (self.booting,) = self.ax_fleet.step(hours, hours * 0, color="tab:cyan", where="post", label="booting")
        self.ax_fleet.set_ylabel("instances")
        self.ax_fleet.legend(loc="upper right", fontsize="small")
        (self.wait,) = self.ax_wait.plot(hours, hours * 0, color="tab:purple")
        self.ax_wait.set_ylabel("wait (min)")
        self.ax_wait.set_xlabel("hour of the simulated day")
        self.ax_wait.set_xlim(0, 24)
        self.fig.tight_layout(rect=(0, 0, 1, 0.95))

    def draw(self, result: SimResult) -> bytes:
        """Update the lines in place (per-minute maxima, so spikes stay visible) and return PNG bytes."""
        n = len(result.visible) // MINUTE * MINUTE

        def per_minute(values):
            return np.asarray(values[:n], dtype=float).reshape(-1, MINUTE).max(axis=1)

        hours = self.hours[: n // MINUTE]
        visible, in_flight = per_minute(result.visible), per_minute(result.in_flight)
        self.visible.set_data(hours, visible)
        self.in_flight.set_data(hours, in_flight)
        rule = result.config.rule
        for line, value in ((self.high, getattr(rule, "high", None)), (self.low, getattr(rule, "low", None))):
            line.set_visible(value is not None)
            if value is not None:
                line.set_ydata([value, value])
        self.ax_queue.set_ylim(0, max(visible.max(), in_flight.max(), 1100) * 1.08)
        running, booting = per_minute(result.running), per_minute(result.booting)
        self.running.set_data(hours, running)
        self.booting.set_data(hours, booting)
        self.ax_fleet.set_ylim(0, result.config.max_size + 1)
        wait = per_minute(result.wait_s) / 60
        self.wait.set_data(hours, wait)
        self.ax_wait.set_ylim(0, max(wait.max(), 1) * 1.1)
        self.title.set_text(rule.describe())
        return self.png()

    def png(self) -> bytes:
        """Render the figure; Pillow's fastest PNG setting keeps a redraw well under 100 ms."""
        from PIL import Image

        self.canvas.draw()
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
            "rule": w.ToggleButtons(options=[("step rule", "step"), ("target tracking", "target")], value=s.rule),
            "high": slider(w.IntSlider, s.high, 200, 5000, 100, "scale out above"),
            "low": slider(w.IntSlider, s.low, 0, 1000, 50, "scale in below"),
            "scale_out": slider(w.IntSlider, s.scale_out, 1, 10, 1, "instances added"),
            "watch_in_flight": w.Checkbox(value=s.watch_in_flight, description="count in-flight messages too"),
            "target_backlog": slider(w.IntSlider, s.target_backlog, 100, 5000, 100, "target backlog/inst."),
            "cooldown_s": slider(w.IntSlider, s.cooldown_s, 0, 900, 60, "cooldown (s)"),
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
        self.summary.value = f"<b>{line}</b>"
        return line

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        print(self.summary.value.removeprefix("<b>").removesuffix("</b>"))
