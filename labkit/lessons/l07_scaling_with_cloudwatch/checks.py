"""Checks for 07-scaling-with-cloudwatch."""

from __future__ import annotations

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.course.checks import Result, hint, passed, unavailable
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, newest, suffix_of
from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimConfig, StepRule, simulate

MAX_WAIT_MIN = 3.0
MAX_INSTANCE_HOURS = 42.0


@exercise(1, "tune the step rule", notebook_only="my_rule and my_cooldown exist only in your kernel")
def tuned_rule(rule: StepRule, cooldown_s: int) -> Result:
    """Re-simulate the spike day with the learner's rule: worst wait under 3 min within 42 instance-hours."""
    if not isinstance(rule, StepRule):
        return hint("my_rule should be a StepRule(high=..., scale_out=..., low=..., scale_in=...)")
    result = simulate(SimConfig(rule=rule, pattern="spike", cooldown_s=int(cooldown_s)))
    wait, hours = result.wait_s.max() / 60, result.instance_hours
    if wait >= MAX_WAIT_MIN:
        return hint(
            f"the worst wait is {wait:.1f} min (goal: under {MAX_WAIT_MIN:g}); add more instances per step, "
            "or shorten the cooldown so the next step comes sooner"
        )
    if hours > MAX_INSTANCE_HOURS:
        return hint(
            f"{hours:.1f} instance-hours is over the budget of {MAX_INSTANCE_HOURS:g}: scale in sooner or by more"
        )
    return passed(f"worst wait {wait:.1f} min with {hours:.1f} instance-hours")


@exercise(2, "a step policy", looks_for="Auto Scaling group labkit-07-consumers-<suffix>")
def step_policy(group: str, policy_name: str) -> Result:
    """The group has a step policy: +5 for 0–2000 above the threshold, +8 from 2000 up."""
    try:
        policies = boto3.client("autoscaling").describe_policies(AutoScalingGroupName=group, PolicyNames=[policy_name])
    except botocore.exceptions.ClientError as err:
        if error_code(err, "") in ("InternalFailure", "NotImplemented", "UnknownOperation"):
            return unavailable("Auto Scaling", "not emulated here, so there is no policy to read back")
        raise
    found = policies["ScalingPolicies"]
    if not found:
        return hint(f"no policy named {policy_name!r} on {group}: create it with put_scaling_policy")
    policy = found[0]
    if policy.get("PolicyType") != "StepScaling":
        return hint(f"{policy_name} is a {policy.get('PolicyType')} policy: use PolicyType='StepScaling'")
    steps = sorted(
        (
            (s.get("MetricIntervalLowerBound"), s.get("MetricIntervalUpperBound"), s["ScalingAdjustment"])
            for s in policy.get("StepAdjustments", [])
        ),
        key=lambda s: s[0] if s[0] is not None else float("-inf"),
    )
    wanted = [(0.0, 2000.0, 5), (2000.0, None, 8)]
    if [(lo, hi, adj) for lo, hi, adj in steps] != wanted:
        return hint(f"the steps are {steps}; expected {wanted} as (lower bound, upper bound, adjustment)")
    return passed(f"{policy_name}: +5 from 0 to 2,000 above the threshold, +8 beyond")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("07")


@step_policy.finder
def _scaling_group(scan: Scan) -> list[Candidate]:
    groups = scan.pages("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups")
    names = [g["AutoScalingGroupName"] for g in newest(groups, "CreatedTime")]
    return [Candidate(n, (n, "scale-out-steps")) for n in names if suffix_of("labkit-07-consumers-{s}", n)]
