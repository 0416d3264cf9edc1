"""Lesson 07 · scaling with CloudWatch: the simulator, the live fleet on a real Auto Scaling
group, the alarm bridge, the pressure gauge, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l07_scaling_with_cloudwatch import checks, ...``.
"""

from labkit.lessons.l07_scaling_with_cloudwatch import checks
from labkit.lessons.l07_scaling_with_cloudwatch.bridge import Action, AlarmBridge
from labkit.lessons.l07_scaling_with_cloudwatch.fleet import Fleet
from labkit.lessons.l07_scaling_with_cloudwatch.groups import ManagedGroup, SelfRunGroup, as_group
from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory
from labkit.lessons.l07_scaling_with_cloudwatch.live import LiveRun
from labkit.lessons.l07_scaling_with_cloudwatch.policy import adjustment, breach_from_reason, new_capacity
from labkit.lessons.l07_scaling_with_cloudwatch.pressure import PressureGauge, draw_history
from labkit.lessons.l07_scaling_with_cloudwatch.sim import (
    DAY,
    SimConfig,
    SimResult,
    StepRule,
    TargetTrackingRule,
    arrivals,
    simulate,
)
from labkit.lessons.l07_scaling_with_cloudwatch.simulator import MINUTE, DayChart, SimulatorState, SimulatorView

__all__ = [
    "DAY",
    "MINUTE",
    "Action",
    "AlarmBridge",
    "DayChart",
    "Fleet",
    "LiveRun",
    "ManagedGroup",
    "PressureGauge",
    "PressureHistory",
    "SelfRunGroup",
    "SimConfig",
    "SimResult",
    "SimulatorState",
    "SimulatorView",
    "StepRule",
    "TargetTrackingRule",
    "adjustment",
    "arrivals",
    "as_group",
    "breach_from_reason",
    "checks",
    "draw_history",
    "new_capacity",
    "simulate",
]
