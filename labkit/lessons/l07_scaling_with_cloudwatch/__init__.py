"""Lesson 07 · scaling with CloudWatch: the simulator, the live run's sampler (the consumers are the
Auto Scaling group's instances, running the launch template's user data), the pressure gauge
(CloudWatch metrics), the checks and the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l07_scaling_with_cloudwatch import checks, ...``.
"""

from labkit.lessons.l07_scaling_with_cloudwatch import checks
from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory
from labkit.lessons.l07_scaling_with_cloudwatch.live import LiveRun
from labkit.lessons.l07_scaling_with_cloudwatch.pressure import PressureGauge, draw_history
from labkit.lessons.l07_scaling_with_cloudwatch.questions import QUESTIONS as questions
from labkit.lessons.l07_scaling_with_cloudwatch.sim import (
    DAY,
    SimConfig,
    SimpleRule,
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
    "DayChart",
    "LiveRun",
    "PressureGauge",
    "PressureHistory",
    "SimConfig",
    "SimResult",
    "SimpleRule",
    "SimulatorState",
    "SimulatorView",
    "StepRule",
    "TargetTrackingRule",
    "arrivals",
    "checks",
    "draw_history",
    "questions",
    "simulate",
]
