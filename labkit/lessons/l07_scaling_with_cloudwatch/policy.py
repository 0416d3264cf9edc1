"""What an Auto Scaling policy does when its alarm fires, computed the way AWS documents it.

Used by the alarm bridge on emulators (where alarms cannot call Auto Scaling),
and unit-tested on its own. See "Step and simple scaling policies" in the
Amazon EC2 Auto Scaling user guide.
"""

from __future__ import annotations

import math
import re


def adjustment(policy: dict, breach: float | None) -> tuple[str, int]:
    """The policy's (AdjustmentType, ScalingAdjustment) for a metric ``breach`` = value − threshold.

    Simple scaling has one adjustment. Step scaling picks the step whose interval holds
    the breach: lower bound inclusive, upper bound exclusive, a missing bound is infinite.
    """
    kind = policy.get("AdjustmentType", "ChangeInCapacity")
    steps = policy.get("StepAdjustments") or []
    if not steps:
        return kind, int(policy["ScalingAdjustment"])
    value = 0.0 if breach is None else breach
    for step in steps:
        lower = step.get("MetricIntervalLowerBound", -math.inf)
        upper = step.get("MetricIntervalUpperBound", math.inf)
        if lower <= value < upper or (breach is None and (lower == 0 or upper == 0)):
            return kind, int(step["ScalingAdjustment"])
    return kind, 0


def new_capacity(kind: str, change: int, current: int, min_size: int, max_size: int) -> int:
    """Desired capacity after applying an adjustment, kept within the group's min and max."""
    if kind == "ExactCapacity":
        wanted = change
    elif kind == "PercentChangeInCapacity":
        delta = current * change / 100
        wanted = current + (math.ceil(delta) if delta > 0 else math.floor(delta))
    else:
        wanted = current + change
    return max(min_size, min(max_size, wanted))


_REASON = re.compile(r"(?:Average|Maximum|Minimum|Sum|SampleCount)\s+([-\d.]+)")


def breach_from_reason(reason: str, threshold: float) -> float | None:
    """value − threshold, read from an alarm's state reason ("... Average 1500.0 GreaterThanThreshold ...")."""
    match = _REASON.search(reason or "")
    return float(match.group(1)) - threshold if match else None
