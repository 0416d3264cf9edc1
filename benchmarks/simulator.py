"""Lesson 07's simulator: simulated seconds per wall second, and the widget's redraw time per change.

Run with `.venv/bin/python benchmarks/simulator.py`. No backend needed.
"""

from __future__ import annotations

import statistics
import time

from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimConfig, SimpleRule, StepRule, TargetTrackingRule, simulate
from labkit.lessons.l07_scaling_with_cloudwatch.simulator import DayChart, SimulatorState

RUNS = 7


def best_and_median(func) -> tuple[float, float]:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    rows = []
    for pattern in ("steady", "spike", "daily"):
        for rule in (SimpleRule(), StepRule(), TargetTrackingRule()):
            config = SimConfig(rule=rule, pattern=pattern)
            _, median = best_and_median(lambda config=config: simulate(config))
            rows.append(
                (
                    f"simulate 24 h ({pattern}, {rule.name})",
                    f"{median * 1000:.0f} ms",
                    f"{config.duration_s / median:,.0f}",
                )
            )

    state, chart = SimulatorState(), DayChart()
    chart.draw(state.run())
    changes = [{"peak_rate": 150}, {"pattern": "daily"}, {"rule": "target"}, {"cooldown_s": 0}, {"boot_s": 300}]
    redraws = []
    for change in changes * 3:
        t0 = time.perf_counter()
        chart.draw(state.run(**change))
        redraws.append(time.perf_counter() - t0)
    rows.append(
        (
            "slider change: simulate + redraw",
            f"{statistics.median(redraws) * 1000:.0f} ms",
            f"max {max(redraws) * 1000:.0f} ms",
        )
    )

    print(f"| {'measure':<42} | {'median':>8} | simulated s per wall s |")
    print(f"|{'-' * 44}|{'-' * 10}|------------------------|")
    for name, value, rate in rows:
        print(f"| {name:<42} | {value:>8} | {rate:>22} |")


if __name__ == "__main__":
    main()
