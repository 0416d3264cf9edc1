"""The policy arithmetic on its own, and the alarm bridge and fleet against the embedded backend."""

import json
import time
import uuid

import boto3
import pytest

from labkit.aws.tally import Tally
from labkit.lessons.l07_scaling_with_cloudwatch import AlarmBridge, Fleet, SelfRunGroup
from labkit.lessons.l07_scaling_with_cloudwatch.policy import adjustment, breach_from_reason, new_capacity

STEPS = {
    "AdjustmentType": "ChangeInCapacity",
    "StepAdjustments": [
        {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 2000.0, "ScalingAdjustment": 5},
        {"MetricIntervalLowerBound": 2000.0, "ScalingAdjustment": 8},
    ],
}


@pytest.mark.parametrize(("breach", "expected"), [(0, 5), (1999.9, 5), (2000, 8), (1e6, 8), (-1, 0)])
def test_step_policy_picks_the_interval_holding_the_breach(breach, expected):
    assert adjustment(STEPS, breach) == ("ChangeInCapacity", expected)


def test_simple_policy_and_unknown_breach():
    assert adjustment({"ScalingAdjustment": -3}, None) == ("ChangeInCapacity", -3)
    assert adjustment(STEPS, None) == ("ChangeInCapacity", 5)  # the step that starts at the threshold


@pytest.mark.parametrize(
    ("kind", "change", "current", "expected"),
    [
        ("ChangeInCapacity", 5, 1, 6),
        ("ChangeInCapacity", 5, 8, 10),  # capped at max
        ("ChangeInCapacity", -3, 2, 1),  # floored at min
        ("ExactCapacity", 4, 9, 4),
        ("PercentChangeInCapacity", 50, 3, 5),  # +1.5 rounds away from zero
        ("PercentChangeInCapacity", -50, 3, 1),
    ],
)
def test_new_capacity(kind, change, current, expected):
    assert new_capacity(kind, change, current, min_size=1, max_size=10) == expected


def test_breach_from_reason():
    reason = "Threshold Crossed: Average 1500.0 GreaterThanThreshold 1000.0"
    assert breach_from_reason(reason, 1000) == 500
    assert breach_from_reason("no numbers here", 1000) is None


@pytest.fixture
def group(embedded_lab, make_scaling_group):
    """A one-instance Auto Scaling group (moto) with the lesson's two policies."""
    autoscaling = boto3.client("autoscaling")
    name = f"g-{uuid.uuid4().hex[:6]}"
    make_scaling_group(name, max_size=10)
    for policy, change in (("out", 5), ("in", -2)):
        autoscaling.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName=policy,
            PolicyType="SimpleScaling",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=change,
            Cooldown=0,
        )
    return name


def _desired(group):
    return boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][
        0
    ]["DesiredCapacity"]


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_bridge_applies_the_policy_when_the_alarm_fires(group):
    cloudwatch, sns = boto3.client("cloudwatch"), boto3.client("sns")
    topic = sns.create_topic(Name=f"{group}-alarms")["TopicArn"]
    metric = {"Namespace": "Test/Bridge", "MetricName": f"Depth{group}"}
    for alarm, operator, threshold in (("high", "GreaterThanThreshold", 1000), ("low", "LessThanThreshold", 100)):
        cloudwatch.put_metric_alarm(
            AlarmName=f"{group}-{alarm}",
            **metric,
            Statistic="Average",
            Period=10,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator=operator,
            AlarmActions=[topic],
        )
    bridge = AlarmBridge(
        group, topic, {f"{group}-high": "out", f"{group}-low": "in"}, period_s=60, inbox_name=f"{group}-inbox"
    ).start()
    try:
        cloudwatch.put_metric_data(
            MetricData=[{"MetricName": metric["MetricName"], "Value": 1500}], Namespace=metric["Namespace"]
        )
        # The bridge sets the capacity, then records the action: wait for both.
        assert _wait_for(lambda: _desired(group) == 6 and bridge.actions), "the high alarm did not scale out"
        action = bridge.actions[0]
        assert (action.alarm, action.policy, action.old, action.new) == (f"{group}-high", "out", 1, 6)
        assert "AWS would execute out (+5)" in str(action)
        time.sleep(1.1)  # a new data point; the 10 s average must fall below 100
        for _ in range(40):
            cloudwatch.put_metric_data(
                MetricData=[{"MetricName": metric["MetricName"], "Value": 0}], Namespace=metric["Namespace"]
            )
        assert _wait_for(lambda: _desired(group) == 4), "the low alarm did not scale in"
    finally:
        bridge.stop()
    assert boto3.client("sqs").list_queues(QueueNamePrefix=f"{group}-inbox").get("QueueUrls", []) == []


def test_fleet_runs_one_consumer_per_instance_and_accounts_for_every_message(group):
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{group}-work")["QueueUrl"]
    tally = Tally()
    for start in range(0, 200, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"job": start + i})} for i in range(10)]
        tally.sent(sqs.send_message_batch(QueueUrl=queue_url, Entries=entries))
    fleet = Fleet(group, queue_url, tally, seconds_per_message=0.001, boot_s=0).start()
    try:
        assert _wait_for(lambda: fleet.counts() == (1, 0))
        boto3.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
        assert _wait_for(lambda: fleet.counts()[0] == 3), "workers did not follow the group"
        assert _wait_for(lambda: fleet.processed == 200)
    finally:
        fleet.stop()
    report = tally.reconcile(sqs, {"work": queue_url})
    assert report.ok and report.processed == 200 and report.processed_twice == 0


def test_self_run_group_stands_in_for_auto_scaling(embedded_lab):
    """Where a backend has no Auto Scaling, the same bridge and fleet drive labkit's own group."""
    group = SelfRunGroup(
        "no-asg",
        min_size=1,
        max_size=4,
        desired=1,
        policies={"out": {"AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 5, "Cooldown": 0}},
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="self-run-work")["QueueUrl"]
    fleet = Fleet(group, queue_url, Tally(), seconds_per_message=0.001, boot_s=0).start()
    bridge = AlarmBridge(group, "unused-topic", {"high": "out"}, period_s=60, inbox_name="unused")
    try:
        assert _wait_for(lambda: fleet.counts() == (1, 0))
        action = bridge.apply("high", 500.0, "test")
        assert (action.old, action.new) == (1, 4)  # +5 capped at max_size
        assert group.in_service() == ["self-run-1", "self-run-2", "self-run-3", "self-run-4"]
        assert _wait_for(lambda: fleet.counts()[0] == 4)
    finally:
        fleet.stop()
