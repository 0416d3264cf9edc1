"""Each Auto Scaling rule labkit's backend applies, pinned to the AWS page it comes from.

Pages (the rules module cites the same):
STEP = https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html
COOLDOWN = https://docs.aws.amazon.com/autoscaling/ec2/userguide/Cooldown.html
TARGET = https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html
ALARMS = https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html
"""

import pytest

from labkit.backends.embedded import scaling_rules as rules
from labkit.backends.embedded.scaling_rules import Group

# STEP, "Step adjustments": the page's own example, a 50 % threshold and percent steps.
SCALE_OUT = [
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 0},
    {"MetricIntervalLowerBound": 10, "MetricIntervalUpperBound": 20, "ScalingAdjustment": 10},
    {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 30},
]
SCALE_IN = [
    {"MetricIntervalLowerBound": -10, "MetricIntervalUpperBound": 0, "ScalingAdjustment": 0},
    {"MetricIntervalLowerBound": -20, "MetricIntervalUpperBound": -10, "ScalingAdjustment": -10},
    {"MetricIntervalUpperBound": -20, "ScalingAdjustment": -30},
]
PERCENT_OUT = {"PolicyType": "StepScaling", "AdjustmentType": "PercentChangeInCapacity", "StepAdjustments": SCALE_OUT}
PERCENT_IN = {"PolicyType": "StepScaling", "AdjustmentType": "PercentChangeInCapacity", "StepAdjustments": SCALE_IN}


def _group(desired, warming=0, min_size=1, max_size=20):
    ids = [f"i-{n}" for n in range(desired)]
    return Group(desired, min_size, max_size, ids, frozenset(ids[len(ids) - warming :] if warming else ()))


@pytest.mark.parametrize(
    ("breach", "adjustment"),
    [(0, 0), (9.9, 0), (10, 10), (19.9, 10), (20, 30), (500, 30)],  # above: lower inclusive, upper exclusive
)
def test_step_bounds_above_the_threshold(breach, adjustment):
    assert rules.step_adjustment(SCALE_OUT, breach) == adjustment


@pytest.mark.parametrize(
    ("breach", "adjustment"),
    # below: lower exclusive, upper inclusive (the page: metric 40 → −10 %, metric 30 → −30 %)
    [(-0.1, 0), (-9.9, 0), (-10, -10), (-19.9, -10), (-20, -30), (-500, -30)],
)
def test_step_bounds_below_the_threshold(breach, adjustment):
    assert rules.step_adjustment(SCALE_IN, breach) == adjustment


def test_a_breach_no_step_covers_runs_nothing():
    assert rules.step_adjustment([{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 5}], -1) is None


@pytest.mark.parametrize(
    ("current", "percent", "change"),
    # STEP, "Scaling adjustment types": 12.7 → 12, 0.67 → 1, −0.58 → −1, −6.67 → −6.
    [(127, 10, 12), (67, 1, 1), (58, -1, -1), (667, -1, -6), (10, 10, 1), (11, 30, 3), (14, -10, -1), (0, 50, 0)],
)
def test_percent_change_rounding(current, percent, change):
    assert rules.percent_change(current, percent) == change


def test_min_adjustment_magnitude():
    # STEP: "a policy that adds 25 percent and ... a minimum increment of 2 instances" on 4 instances adds 2.
    assert rules.adjusted("PercentChangeInCapacity", 25, 4, min_magnitude=2) == 6
    assert rules.adjusted("ExactCapacity", 5, 3) == 5 and rules.adjusted("ChangeInCapacity", 5, 3) == 8


def test_the_pages_step_example_end_to_end():
    """STEP's walk-through: 10 instances; metric 60 → 11; 70 after that → 14; 40 → 13; 30 → 10."""
    assert rules.step_scaling(PERCENT_OUT, _group(10), 60 - 50) == 11
    assert rules.step_scaling(PERCENT_OUT, _group(11), 70 - 50) == 14
    assert rules.step_scaling(PERCENT_IN, _group(14), 40 - 50) == 13
    assert rules.step_scaling(PERCENT_IN, _group(13), 30 - 50) == 10


def test_step_scaling_while_instances_warm_up():
    """STEP, "Instance warmup": at 62 while the 11th instance warms, nothing more; at 70, +2 (to 13), not +3."""
    warming = _group(11, warming=1)
    assert rules.step_scaling(PERCENT_OUT, warming, 62 - 50) is None
    assert rules.step_scaling(PERCENT_OUT, warming, 70 - 50) == 13


def test_step_scaling_has_no_cooldown_but_no_scale_in_during_a_scale_out():
    """STEP: step scaling keeps responding while an activity is in progress; a scale-in cannot start
    while a scale-out (instances warming up) is in progress."""
    remove = {
        "PolicyType": "StepScaling",
        "StepAdjustments": [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -3}],
    }
    assert rules.step_scaling(remove, _group(10), -5) == 7
    assert rules.step_scaling(remove, _group(7), -5) == 4  # again at once: no cooldown
    assert rules.step_scaling(remove, _group(10, warming=2), -5) is None


def test_simple_scaling_waits_for_its_cooldown():
    """STEP and COOLDOWN: one adjustment, then alarms are ignored until the cooldown has passed."""
    policy = {"PolicyType": "SimpleScaling", "AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 5}
    assert rules.simple_scaling(policy, _group(1), now=100, cooldown_until=0) == 6
    assert rules.simple_scaling(policy, _group(6), now=100, cooldown_until=105) is None
    assert rules.simple_scaling(policy, _group(6), now=105, cooldown_until=105) == 11
    assert rules.simple_scaling(policy, _group(18), now=200, cooldown_until=0) == 20  # the group's max
    shrink = {**policy, "ScalingAdjustment": -3}
    assert rules.simple_scaling(shrink, _group(2), now=0, cooldown_until=0) == 1  # the group's min
    assert rules.simple_scaling(shrink, _group(1), now=0, cooldown_until=0) is None  # nothing to change


def test_target_tracking_scales_out_in_proportion_at_once():
    """TARGET: out proportionally, rounding up (1.5 instances more → 2)."""
    assert rules.target_tracking(3000, 100, _group(1), below_for=0, scale_in_after=5) == 20  # 30, capped at max 20
    assert rules.target_tracking(75, 50, _group(3), below_for=0, scale_in_after=5) == 5  # 4.5 → 5
    assert (
        rules.target_tracking(250, 100, _group(10, warming=9), below_for=0, scale_in_after=5) is None
    )  # 1 warm × 2.5 → 3 < 10


def test_target_tracking_scales_in_gradually():
    """TARGET: in more gradually, never too many (removing 1.5 instances removes 1)."""
    tt = rules.target_tracking
    assert tt(10, 100, _group(10), below_for=4, scale_in_after=5) is None  # not below long enough
    assert tt(10, 100, _group(10), below_for=5, scale_in_after=5) == 1
    assert tt(85, 100, _group(10), below_for=5, scale_in_after=5) == 9  # 8.5 → keep 9
    assert tt(10, 100, _group(10, warming=1), below_for=9, scale_in_after=5) is None  # a scale-out is in progress
    assert tt(10, 100, _group(10), below_for=9, scale_in_after=5, disable_scale_in=True) is None
    assert tt(0, 100, _group(4, min_size=2), below_for=5, scale_in_after=5) == 2


def test_warmup_falls_back_from_the_policy_to_the_group():
    assert rules.warmup_seconds({"EstimatedInstanceWarmup": 30}, {"DefaultInstanceWarmup": 60}) == 30
    assert rules.warmup_seconds({}, {"DefaultInstanceWarmup": 60, "DefaultCooldown": 300}) == 60
    assert rules.warmup_seconds({}, {"DefaultCooldown": 120}) == 120


def test_policy_arn_names_its_group_and_policy():
    arn = (
        "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:c322-4d56:autoScalingGroupName/my-asg:policyName/out"
    )
    assert rules.policy_from_arn(arn) == ("my-asg", "out")
    assert rules.policy_from_arn("arn:aws:sns:us-east-1:123456789012:alarms") is None


def test_aws_repeats_once_a_minute_and_words_the_cause_as_aws_does():
    """ALARMS: an Auto Scaling action runs again while the alarm stays in ALARM, once a minute."""
    assert rules.AWS_REPEAT_SECONDS == 60
    cause = rules.alarm_cause("2024-01-01T00:00:00Z", "high", "ALARM", "scale-out", 1, 6)
    assert cause == (
        "At 2024-01-01T00:00:00Z a monitor alarm high in state ALARM triggered policy scale-out"
        " changing the desired capacity from 1 to 6."
    )
