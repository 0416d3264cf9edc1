"""What Amazon EC2 Auto Scaling does when a policy runs, as AWS documents it: pure functions, no I/O.

``labkit.backends.embedded.fillers`` applies these on the embedded backend, where alarms cannot call Auto
Scaling; ``tests/unit/test_scaling_rules.py`` pins each rule to the page below it comes from.

- Step adjustments and their bounds, the adjustment types and their rounding, simple scaling's
  cooldown, step scaling's warmup: https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html
- Cooldowns apply to simple scaling only: https://docs.aws.amazon.com/autoscaling/ec2/userguide/Cooldown.html
- Target tracking scales out proportionally as fast as it can and in more gradually, rounding so
  that it never adds too few or removes too many:
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html
- An alarm in ALARM invokes its Auto Scaling action again once a minute while it stays there:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html and
  https://repost.aws/knowledge-center/autoscaling-policy-cloudwatch-alarm
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

AWS_REPEAT_SECONDS = 60  # an alarm re-invokes its Auto Scaling action once a minute while in ALARM
_POLICY_ARN = re.compile(
    r"^arn:[^:]+:autoscaling:[^:]*:[^:]*:scalingPolicy:[^:]*:autoScalingGroupName/(.+):policyName/(.+)$"
)


def policy_from_arn(arn: str) -> tuple[str, str] | None:
    """(group, policy) named by a scaling policy's ARN, or None for any other ARN (an SNS topic ...)."""
    match = _POLICY_ARN.match(arn)
    return (match.group(1), match.group(2)) if match else None


@dataclass
class Group:
    """What a policy needs to know about its Auto Scaling group at the moment it runs."""

    desired: int
    min_size: int
    max_size: int
    in_service: Sequence[str] = ()
    warming: frozenset[str] = field(default_factory=frozenset)  # launched by a policy, warmup not over yet

    @property
    def current(self) -> int:
        """Capacity for scaling out: in-service instances that have finished warming up."""
        return len([i for i in self.in_service if i not in self.warming])

    def clamp(self, capacity: int) -> int:
        return max(self.min_size, min(self.max_size, capacity))


def step_adjustment(steps: Sequence[Mapping[str, Any]], breach: float) -> int | None:
    """The ScalingAdjustment of the step whose bounds hold ``breach`` (metric − threshold), or None.

    Bounds are relative to the threshold; a missing bound is infinite. Above the threshold the
    lower bound is inclusive and the upper exclusive; below it, the lower is exclusive and the
    upper inclusive.
    """
    for step in steps:
        lower = step.get("MetricIntervalLowerBound")
        upper = step.get("MetricIntervalUpperBound")
        lo = -math.inf if lower is None else float(lower)
        hi = math.inf if upper is None else float(upper)
        inside = lo <= breach < hi if breach >= 0 else lo < breach <= hi
        if inside:
            return int(step["ScalingAdjustment"])
    return None


def percent_change(current: int, percent: float) -> int:
    """PercentChangeInCapacity's change: above 1 rounds down, 0 to 1 becomes 1, 0 to −1 becomes −1,
    below −1 rounds up (towards zero)."""
    change = current * percent / 100
    if change == 0:
        return 0
    if 0 < change < 1:
        return 1
    if -1 < change < 0:
        return -1
    return math.floor(change) if change > 0 else math.ceil(change)


def adjusted(kind: str, adjustment: int, capacity: int, min_magnitude: int | None = None) -> int:
    """The capacity an adjustment asks for, from ``capacity``, before the group's min and max."""
    if kind == "ExactCapacity":
        return adjustment
    if kind == "PercentChangeInCapacity":
        change = percent_change(capacity, adjustment)
        if min_magnitude and 0 < abs(change) < min_magnitude:
            change = int(math.copysign(min_magnitude, change))
        return capacity + change
    return capacity + adjustment


def simple_scaling(policy: Mapping[str, Any], group: Group, *, now: float, cooldown_until: float) -> int | None:
    """The new desired capacity a simple scaling policy sets, or None.

    One adjustment from the desired capacity; while a simple-scaling activity's cooldown runs
    (``now < cooldown_until``) the policy ignores its alarms.
    """
    if now < cooldown_until:
        return None
    kind = policy.get("AdjustmentType") or "ChangeInCapacity"
    wanted = group.clamp(
        adjusted(kind, int(policy["ScalingAdjustment"]), group.desired, policy.get("MinAdjustmentMagnitude"))
    )
    return wanted if wanted != group.desired else None


def step_scaling(policy: Mapping[str, Any], group: Group, breach: float) -> int | None:
    """The new desired capacity a step scaling policy sets for ``breach``, or None.

    No cooldown: it responds to every alarm, even while an activity is in progress. Scaling out,
    instances still warming up do not count as current capacity, so breaches in the same step
    lead to one activity and a larger breach adds only the difference. Scaling in counts every
    instance, and cannot start while a scale-out is in progress (instances still warming up).
    """
    adjustment = step_adjustment(policy.get("StepAdjustments") or [], breach)
    if adjustment is None:
        return None
    kind = policy.get("AdjustmentType") or "ChangeInCapacity"
    magnitude = policy.get("MinAdjustmentMagnitude")
    out = group.clamp(adjusted(kind, adjustment, group.current, magnitude))
    if out > group.desired:
        return out
    scale_in = group.clamp(adjusted(kind, adjustment, group.desired, magnitude))
    if scale_in < group.desired and not group.warming:
        return scale_in
    return None


def target_tracking(
    value: float, target: float, group: Group, *, below_for: int, scale_in_after: int, disable_scale_in: bool = False
) -> int | None:
    """The new desired capacity a target tracking policy sets for the metric ``value``, or None.

    Scaling out is proportional and immediate: ceil(current × value / target), current not
    counting instances that are warming up. Scaling in is more gradual: only after the metric has
    been below the target for ``scale_in_after`` evaluations in a row (``below_for`` so far), never
    while instances warm up, and rounded up so it never removes too many.
    """
    if target <= 0:
        return None
    if value > target:
        wanted = group.clamp(math.ceil(max(group.current, 1) * value / target))
        return wanted if wanted > group.desired else None
    if disable_scale_in or value >= target or below_for < scale_in_after or group.warming:
        return None
    wanted = group.clamp(math.ceil(group.desired * value / target))
    return wanted if wanted < group.desired else None


def target_queries(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The GetMetricData queries of a target tracking policy's customized metric: its ``Metrics`` (metric
    math), or its one metric; [] for a predefined metric."""
    spec = config.get("CustomizedMetricSpecification")
    if not spec:
        return []
    if spec.get("Metrics"):
        return [dict(m) for m in spec["Metrics"]]
    metric = {k: spec[k] for k in ("Namespace", "MetricName") if k in spec}
    metric["Dimensions"] = spec.get("Dimensions", [])
    return [{"Id": "m1", "MetricStat": {"Metric": metric, "Stat": spec.get("Statistic", "Average")}}]


def warmup_seconds(policy: Mapping[str, Any], group: Mapping[str, Any]) -> float:
    """How long instances a step or target tracking policy launches warm up: the policy's
    EstimatedInstanceWarmup, else the group's DefaultInstanceWarmup, else its DefaultCooldown."""
    for value in (
        policy.get("EstimatedInstanceWarmup"),
        group.get("DefaultInstanceWarmup"),
        group.get("DefaultCooldown"),
    ):
        if value is not None:
            return float(value)
    return 300.0


def alarm_cause(at: str, alarm: str, state: str, policy: str, old: int, new: int) -> str:
    """The first sentence of a scaling activity's cause, as Auto Scaling words it."""
    return (
        f"At {at} a monitor alarm {alarm} in state {state} triggered policy {policy}"
        f" changing the desired capacity from {old} to {new}."
    )
