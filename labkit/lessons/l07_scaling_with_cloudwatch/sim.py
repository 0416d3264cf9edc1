"""A queue-driven fleet, second by second: the model behind lesson 07.

The queue holds a backlog of messages. Each running instance works on up to
``slots`` messages at a time (those are *in flight*, invisible to others) and
finishes one every ``job_seconds / slots`` seconds on average; the rest of the
backlog is *visible*. Every ``period_s`` seconds (a minute, as on AWS: alarms are
evaluated every minute, and an alarm in ALARM runs its Auto Scaling action again
once a minute) the rule looks at the metric as CloudWatch reports it (averaged over
the period, ``metric_delay_s`` late) and sets the desired capacity. New instances
boot for ``boot_s`` before they take work, and count as warming up until then;
scale-in removes running instances at once, and the messages they were working on
go back to the queue (counted as interrupted).

The three rules are the three kinds of Auto Scaling policy, with AWS's rules
(``labkit.backends.embedded.scaling_rules``, https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html):
``SimpleRule`` (one adjustment, then the cooldown ``cooldown_s``), ``StepRule`` (the
adjustment depends on how far the metric is past the threshold; no cooldown; instances
still booting do not count as capacity, and no scale-in while they boot) and
``TargetTrackingRule`` (visible messages per instance near a target: out in one step,
in only after several periods below the target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from labkit.backends.embedded.scaling_rules import step_adjustment

DAY = 24 * 3600
Step = tuple[float | None, float | None, int]  # (lower bound, upper bound, adjustment), relative to the threshold


def _watched(metric: str, visible: float, in_flight: float) -> float:
    return visible + in_flight if metric == "backlog" else visible


@dataclass(frozen=True)
class SimpleRule:
    """The lesson's starting rule, as two simple scaling policies: above ``high`` visible messages add
    ``scale_out``; below ``low`` remove ``scale_in``; after each action, the cooldown.

    ``metric`` is what the alarms watch: ``"visible"`` (ApproximateNumberOfMessagesVisible, the course's
    choice) or ``"backlog"`` (Visible + NotVisible, which counts messages being worked on).
    """

    high: float = 1000
    scale_out: int = 5
    low: float = 100
    scale_in: int = 1
    metric: str = "visible"

    name = "simple scaling"
    uses_cooldown = True

    def target(self, visible: float, in_flight: float, desired: int, current: int, booting: int, history=()) -> int:
        """The desired capacity this rule asks for, before the group's min and max."""
        value = _watched(self.metric, visible, in_flight)
        if value > self.high:
            return desired + self.scale_out
        if value < self.low:
            return desired - self.scale_in
        return desired

    def change(self, visible: float, in_flight: float, capacity: int) -> int:
        """How many instances the rule adds (positive) or removes (negative) from ``capacity``."""
        return self.target(visible, in_flight, capacity, capacity, 0) - capacity

    def describe(self) -> str:
        watched = "visible" if self.metric == "visible" else "visible + in flight"
        return f"{watched} > {self.high:g} → +{self.scale_out}; < {self.low:g} → −{self.scale_in}; then the cooldown"


@dataclass(frozen=True)
class StepRule:
    """Two step scaling policies: ``out_steps`` above ``high``, ``in_steps`` below ``low``, each step
    ``(lower, upper, adjustment)`` with bounds relative to the threshold (None: unbounded)."""

    high: float = 1000
    low: float = 100
    out_steps: Sequence[Step] = ((0, 2000, 5), (2000, None, 8))
    in_steps: Sequence[Step] = ((None, 0, -1),)
    metric: str = "visible"

    name = "step scaling"
    uses_cooldown = False

    @staticmethod
    def _adjustment(steps: Sequence[Step], breach: float) -> int:
        found = step_adjustment(
            [
                {"MetricIntervalLowerBound": lo, "MetricIntervalUpperBound": hi, "ScalingAdjustment": a}
                for lo, hi, a in steps
            ],
            breach,
        )
        return found or 0

    def target(self, visible: float, in_flight: float, desired: int, current: int, booting: int, history=()) -> int:
        value = _watched(self.metric, visible, in_flight)
        if value > self.high:
            # Booting instances are not current capacity: the same step again adds nothing, a larger one the difference.
            return max(desired, current + self._adjustment(self.out_steps, value - self.high))
        if value < self.low and not booting:  # no scale-in while a scale-out is in progress
            return desired + self._adjustment(self.in_steps, value - self.low)
        return desired

    def describe(self) -> str:
        def steps(items: Sequence[Step], threshold: float) -> str:
            parts = []
            for lo, hi, adj in items:
                lo_s = "−∞" if lo is None else f"{threshold + lo:g}"
                hi_s = "∞" if hi is None else f"{threshold + hi:g}"
                parts.append(f"{lo_s}…{hi_s} → {adj:+d}")
            return ", ".join(parts)

        return f"step: {steps(self.out_steps, self.high)}; {steps(self.in_steps, self.low)}; no cooldown"


@dataclass(frozen=True)
class TargetTrackingRule:
    """AWS's pattern for queues: keep visible messages per instance (the backlog per instance) near a target.

    The target is how many messages one instance can clear within the latency you accept (messages per
    second per instance × acceptable seconds). Like AWS's target tracking it scales out in one step to
    the capacity the target implies, and scales in only after ``scale_in_after`` periods below the target,
    never while instances are still booting, rounding so it never removes too many.
    """

    backlog_per_instance: float = 1200
    scale_in_after: int = 15
    metric: str = "visible"  # AWS's example: visible ÷ in service; "backlog" adds the messages in flight

    name = "target tracking"
    uses_cooldown = False

    def target(self, visible: float, in_flight: float, desired: int, current: int, booting: int, history=()) -> int:
        per_instance = _watched(self.metric, visible, in_flight) / max(current, 1)
        wanted = math.ceil(max(current, 1) * per_instance / self.backlog_per_instance)
        if per_instance > self.backlog_per_instance:
            return max(desired, wanted)
        recent = [_watched(self.metric, v, f) for v, f in list(history)[-self.scale_in_after :]]
        calm = len(recent) == self.scale_in_after and all(
            v < self.backlog_per_instance * max(current, 1) for v in recent
        )
        if calm and not booting:
            return min(desired, max(1, wanted))
        return desired

    def describe(self) -> str:
        watched = "visible" if self.metric == "visible" else "visible + in-flight"
        return f"keep {watched} messages per instance ≈ {self.backlog_per_instance:g}"


Rule = SimpleRule | StepRule | TargetTrackingRule


def arrivals(pattern: str, duration_s: int = DAY, base_rate: float = 20.0, peak_rate: float = 200.0) -> np.ndarray:
    """Messages arriving each second.

    ``steady``: ``base_rate`` all day. ``spike``: ``base_rate``, with ``peak_rate`` for one hour
    from 09:00. ``daily``: a wave from ``base_rate`` at 03:00 to ``peak_rate`` at 15:00.
    """
    t = np.arange(duration_s)
    if pattern == "steady":
        rate = np.full(duration_s, base_rate, dtype=float)
    elif pattern == "spike":
        rate = np.where((t >= 9 * 3600) & (t < 10 * 3600), peak_rate, base_rate).astype(float)
    elif pattern == "daily":
        rate = base_rate + (peak_rate - base_rate) * 0.5 * (1 - np.cos(2 * np.pi * (t - 3 * 3600) / DAY))
    else:
        raise ValueError(f"unknown arrival pattern {pattern!r}: use steady, spike or daily")
    return rate


@dataclass
class SimConfig:
    rule: Rule = field(default_factory=SimpleRule)
    pattern: str = "spike"
    duration_s: int = DAY
    base_rate: float = 20.0  # messages per second
    peak_rate: float = 200.0
    slots: int = 10  # messages one instance works on at once
    job_seconds: float = 0.5  # time to process one message
    boot_s: int = 120  # launch until the instance takes work
    period_s: int = 60  # how often the alarms evaluate (and repeat an action while in ALARM)
    metric_delay_s: int = 0  # how late the metric arrives
    cooldown_s: int = 300  # simple scaling only
    min_size: int = 1
    max_size: int = 20
    initial: int = 1

    @property
    def per_instance_rate(self) -> float:
        return self.slots / self.job_seconds


@dataclass
class SimResult:
    config: SimConfig
    visible: np.ndarray  # per second
    in_flight: np.ndarray
    running: np.ndarray
    booting: np.ndarray
    processed: np.ndarray  # per second
    arrived: np.ndarray
    actions: list[tuple[int, int, int]]  # (second, change, new desired)
    interrupted: float  # messages returned to the queue by scale-in

    @property
    def instance_hours(self) -> float:
        return float((self.running.sum() + self.booting.sum()) / 3600)

    @property
    def wait_s(self) -> np.ndarray:
        """Seconds a message arriving at each second waits until it is processed, first in, first out.

        It is the time until the cumulative count processed catches up with the cumulative count
        arrived; a message still queued at the end counts as waiting until the end.
        """
        arrived = np.cumsum(self.arrived)
        processed = np.cumsum(self.processed)
        done_at = np.searchsorted(processed, arrived - 1e-6)
        return (done_at - np.arange(len(arrived))).clip(min=0).astype(float)

    @property
    def left_in_queue(self) -> float:
        return float(self.visible[-1] + self.in_flight[-1])

    def summary(self) -> str:
        wait = self.wait_s
        return (
            f"{self.config.rule.name}: peak {self.visible.max():,.0f} visible, "
            f"{self.running.max()} instances at most, {len(self.actions)} scaling actions, "
            f"worst wait ≈ {wait.max() / 60:,.1f} min, {self.instance_hours:,.1f} instance-hours"
            + (f", {self.interrupted:,.0f} jobs interrupted by scale-in" if self.interrupted >= 1 else "")
        )


def simulate(config: SimConfig, arrival: np.ndarray | None = None) -> SimResult:
    """Run the model; every array in the result has one value per simulated second."""
    c = config
    a = arrivals(c.pattern, c.duration_s, c.base_rate, c.peak_rate) if arrival is None else arrival
    n = len(a)
    a_list = a.tolist()
    # The hot loop stores only the backlog after each second and the running count; everything
    # else is derived with numpy afterwards. Plain lists: indexing them beats numpy scalars.
    backlog_out = [0.0] * n
    running_out = [0] * n
    actions: list[tuple[int, int, int]] = []

    rule = c.rule
    finish_rate = 1.0 / c.job_seconds
    slots = c.slots
    period = c.period_s
    backlog = 0.0
    running = c.initial
    capacity = running * slots
    boots: list[int] = []  # seconds at which booting instances start taking work
    desired = c.initial
    last_action = -(10**9)
    interrupted = 0.0
    seen_v: list[float] = []  # the metric as reported, one value per period
    seen_f: list[float] = []
    delay_periods = c.metric_delay_s // period

    for start in range(0, n, period):
        end = min(start + period, n)
        for t in range(start, end):
            if boots and boots[0] <= t:
                while boots and boots[0] <= t:
                    boots.pop(0)
                    running += 1
                capacity = running * slots
            backlog += a_list[t]
            done = (backlog if backlog < capacity else capacity) * finish_rate
            backlog -= done if done < backlog else backlog
            backlog_out[t] = backlog
            running_out[t] = running
        if end - start < period:
            break
        b = backlog_out[start:end]
        busy = sum([x if x < r * slots else r * slots for x, r in zip(b, running_out[start:end], strict=True)])
        seen_v.append((sum(b) - busy) / period)
        seen_f.append(busy / period)
        seen = len(seen_v) - 1 - delay_periods
        t = end - 1
        if seen < 0 or (rule.uses_cooldown and t - last_action < c.cooldown_s):
            continue
        history = zip(seen_v[: seen + 1], seen_f[: seen + 1], strict=True)
        wanted = rule.target(seen_v[seen], seen_f[seen], desired, running, len(boots), history)
        target = min(max(wanted, c.min_size), c.max_size)
        if target == desired:
            continue
        actions.append((t, target - desired, target))
        last_action = t
        if target > desired:
            boots.extend([t + 1 + c.boot_s] * (target - desired))
        else:
            remove = desired - target
            from_boot = min(remove, len(boots))
            del boots[len(boots) - from_boot :]
            remove -= from_boot
            if remove:
                # The removed instances' in-flight messages go back to the queue.
                interrupted += min(backlog, capacity) * remove / max(running, 1)
                running -= remove
                capacity = running * slots
        desired = target

    backlog_arr = np.array(backlog_out)
    running_arr = np.array(running_out)
    in_flight = np.minimum(backlog_arr, running_arr * slots)
    before = np.concatenate(([0.0], backlog_arr[:-1])) + a
    booting = np.zeros(n, dtype=int)
    for t, change, _ in actions:
        if change > 0:
            booting[t + 1 : t + 1 + c.boot_s] += change
    booting = np.maximum(np.minimum(booting, np.maximum(0, _desired_series(actions, c, n) - running_arr)), 0)
    return SimResult(
        c,
        backlog_arr - in_flight,
        in_flight,
        running_arr,
        booting,
        before - backlog_arr,
        a,
        actions,
        interrupted,
    )


def _desired_series(actions: list[tuple[int, int, int]], c: SimConfig, n: int) -> np.ndarray:
    """The desired capacity each second, from the list of scaling actions."""
    desired = np.full(n, c.initial, dtype=int)
    for t, _, target in actions:
        desired[t + 1 :] = target
    return desired
