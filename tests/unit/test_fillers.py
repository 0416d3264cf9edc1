"""labkit's fillers (``labkit.backends.embedded.fillers``) in-process against moto, with clocks the test moves.

The AWS rules themselves are pinned in test_scaling_rules.py; these tests check that the process
publishes what SQS and Auto Scaling publish, runs the policy an alarm names when AWS would (once on
entering ALARM, again every ``repeat_s`` while there, never inside a simple policy's cooldown),
evaluates target tracking with metric math, and records every action as a scaling activity.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from labkit.backends.embedded import fillers, moto_fixes
from labkit.backends.embedded import scaling_rules as rules
from labkit.backends.embedded.fillers import Fillers, Settings
from labkit.backends.embedded.ministack_fixes import ExpressionError, evaluate, metric_math


class Clocks:
    """A monotonic clock and a wall clock that move together, only when told."""

    def __init__(self):
        self.t = 0.0
        self.start = time.time()

    def clock(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.start + self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def aws(moto_env):
    undo = moto_fixes.apply()  # scaling activities, as the embedded backend's moto records them
    yield
    undo()


@pytest.fixture
def clocks():
    return Clocks()


@pytest.fixture
def filler(aws, clocks):
    return Fillers(
        Settings(metrics_s=1, repeat_s=5, tt_period_s=10, tt_scale_in_after=3), clock=clocks.clock, wall=clocks.wall
    )


def _group(name, desired=1, max_size=20, **extra):
    ec2, autoscaling = boto3.client("ec2"), boto3.client("autoscaling")
    template = {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}  # moto's example image: no listing needed
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=template)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=1,
        MaxSize=max_size,
        DesiredCapacity=desired,
        AvailabilityZones=["us-east-1a"],
        **extra,
    )
    return name


def _desired(name):
    return boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][
        0
    ]["DesiredCapacity"]


def _policy_arn(group, policy, **spec):
    autoscaling = boto3.client("autoscaling")
    autoscaling.put_scaling_policy(AutoScalingGroupName=group, PolicyName=policy, **spec)
    return autoscaling.describe_policies(AutoScalingGroupName=group, PolicyNames=[policy])["ScalingPolicies"][0][
        "PolicyARN"
    ]


def _alarm(name, actions, *, namespace="Test/Depth", metric="Depth", threshold=100.0, state="ALARM", **extra):
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName=metric,
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=actions,
        **extra,
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def _latest(namespace, metric, dims, clocks, statistic="Maximum"):
    end = datetime.fromtimestamp(clocks.wall(), timezone.utc)
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=dims,
        StartTime=end - timedelta(minutes=1),
        EndTime=end + timedelta(seconds=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return [p[statistic] for p in points]


def test_publishes_the_three_queue_metrics_for_every_queue(filler, clocks):
    sqs = boto3.client("sqs")
    busy = sqs.create_queue(QueueName="busy")["QueueUrl"]
    sqs.create_queue(QueueName="idle")
    for n in range(3):
        sqs.send_message(QueueUrl=busy, MessageBody=str(n))
    sqs.send_message(QueueUrl=busy, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=busy, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert filler.publish_queue_metrics() == 6

    def seen(queue, metric):
        return _latest("AWS/SQS", metric, [{"Name": "QueueName", "Value": queue}], clocks)

    assert seen("busy", "ApproximateNumberOfMessagesVisible") == [2.0]
    assert seen("busy", "ApproximateNumberOfMessagesNotVisible") == [1.0]
    assert seen("busy", "ApproximateNumberOfMessagesDelayed") == [1.0]
    assert seen("idle", "ApproximateNumberOfMessagesVisible") == [0.0]


def test_publishes_only_the_group_metrics_a_group_enabled(filler, clocks):
    _group("quiet")
    _group("watched", desired=3)
    boto3.client("autoscaling").enable_metrics_collection(
        AutoScalingGroupName="watched", Granularity="1Minute", Metrics=["GroupInServiceInstances"]
    )
    assert filler.publish_group_metrics() == 1
    dims = [{"Name": "AutoScalingGroupName", "Value": "watched"}]
    assert _latest("AWS/AutoScaling", "GroupInServiceInstances", dims, clocks) == [3.0]
    assert _latest("AWS/AutoScaling", "GroupDesiredCapacity", dims, clocks) == []


def test_simple_policy_on_entering_alarm_then_once_per_repeat_outside_its_cooldown(filler, clocks):
    group = _group("simple")
    arn = _policy_arn(
        group, "out", PolicyType="SimpleScaling", AdjustmentType="ChangeInCapacity", ScalingAdjustment=5, Cooldown=8
    )
    _alarm("high", [arn])
    filler.tick()
    assert _desired(group) == 6  # entering ALARM runs the policy at once
    clocks.advance(5)
    filler.tick()
    assert _desired(group) == 6  # repeat due, but the 8 s cooldown has 3 s to go: ignored
    clocks.advance(4)
    filler.tick()
    assert _desired(group) == 6  # cooldown over, but the last run was only 4 s ago
    clocks.advance(1)
    filler.tick()
    assert _desired(group) == 11  # 5 s after the last run, still in ALARM: runs again
    activities = boto3.client("autoscaling").describe_scaling_activities(AutoScalingGroupName=group)["Activities"]
    launched = [a for a in activities if "monitor alarm high in state ALARM triggered policy out" in a["Cause"]]
    assert len(launched) == 10 and all(a["StatusCode"] == "Successful" for a in launched)
    assert "changing the desired capacity from 6 to 11" in launched[0]["Cause"]  # newest first


def test_alarm_actions_that_are_not_policies_or_disabled_are_left_alone(filler, clocks):
    group = _group("left-alone")
    arn = _policy_arn(group, "out", PolicyType="SimpleScaling", AdjustmentType="ChangeInCapacity", ScalingAdjustment=5)
    _alarm("sns-only", ["arn:aws:sns:us-east-1:123456789012:alarms"])
    _alarm("disabled", [arn], ActionsEnabled=False)
    _alarm("calm", [arn], state="OK")
    filler.tick()
    assert _desired(group) == 1


def test_step_policy_reads_the_breach_and_does_not_repeat_a_step_during_warmup(filler, clocks):
    group = _group("steps")
    arn = _policy_arn(
        group,
        "out",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        MetricAggregationType="Maximum",
        EstimatedInstanceWarmup=30,
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 1000, "ScalingAdjustment": 2},
            {"MetricIntervalLowerBound": 1000, "ScalingAdjustment": 5},
        ],
    )

    def depth(value):
        at = datetime.fromtimestamp(clocks.wall(), timezone.utc)
        boto3.client("cloudwatch").put_metric_data(
            Namespace="Test/Depth", MetricData=[{"MetricName": "Depth", "Value": value, "Timestamp": at}]
        )

    depth(1500)
    _alarm("high", [arn], threshold=100)
    filler.tick()
    assert _desired(group) == 6  # 1,400 above the threshold: the +5 step
    clocks.advance(5)
    filler.tick()
    assert _desired(group) == 6  # same step again while the 5 new instances warm up: current is still 1
    clocks.advance(30)
    depth(1500)
    filler.tick()
    assert _desired(group) == 11  # warm now: current 6, +5


def test_target_tracking_with_metric_math_out_at_once_in_gradually(filler, clocks):
    sqs, autoscaling = boto3.client("sqs"), boto3.client("autoscaling")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    group = _group("tracked", max_size=10)
    autoscaling.enable_metrics_collection(
        AutoScalingGroupName=group, Granularity="1Minute", Metrics=["GroupInServiceInstances"]
    )
    for _ in range(30):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])

    def stat(namespace, metric, name, value):
        return {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": [{"Name": name, "Value": value}]},
            "Stat": "Average",
        }

    autoscaling.put_scaling_policy(
        AutoScalingGroupName=group,
        PolicyName="backlog",
        PolicyType="TargetTrackingScaling",
        EstimatedInstanceWarmup=35,
        TargetTrackingConfiguration={
            "TargetValue": 50.0,
            "CustomizedMetricSpecification": {
                "Metrics": [
                    {
                        "Id": "m1",
                        "MetricStat": stat("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "work"),
                        "ReturnData": False,
                    },
                    {
                        "Id": "m2",
                        "MetricStat": stat("AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", group),
                        "ReturnData": False,
                    },
                    {"Id": "e1", "Expression": "m1 / m2", "ReturnData": True},
                ]
            },
        },
    )
    filler.tick()
    assert _desired(group) == 6  # 300 per instance against 50: 1 × 300 / 50 at once
    sqs.purge_queue(QueueUrl=url)
    for _ in range(3):
        clocks.advance(10)
        filler.tick()
        assert _desired(group) == 6  # below the target, but the new instances are still warming up
    clocks.advance(10)
    filler.tick()
    assert _desired(group) == 1  # warm, and below the target for 3 evaluations in a row: in to the minimum
    causes = [a["Cause"] for a in autoscaling.describe_scaling_activities(AutoScalingGroupName=group)["Activities"]]
    assert any("target tracking alarm AlarmHigh" in c and "from 1 to 6" in c for c in causes)
    assert any("AlarmLow" in c and "from 6 to 1" in c for c in causes)


def test_a_policy_whose_group_is_gone_does_not_stop_the_process(filler, clocks):
    """moto keeps a deleted group's policies (AWS deletes them with the group): the process must go on."""
    group = _group("gone")
    boto3.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=group,
        PolicyName="tt",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "TargetValue": 1.0,
            "CustomizedMetricSpecification": {"MetricName": "M", "Namespace": "N"},
        },
    )
    boto3.client("cloudwatch").put_metric_data(
        Namespace="N",
        MetricData=[{"MetricName": "M", "Value": 50, "Timestamp": datetime.fromtimestamp(clocks.wall(), timezone.utc)}],
    )
    autoscaling = boto3.client("autoscaling")
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    assert [p["PolicyName"] for p in autoscaling.describe_policies()["ScalingPolicies"]] == ["tt"]  # still listed
    filler.tick()  # raises nothing
    clocks.advance(1)
    filler.tick()
    assert filler.status.actions == []


def test_put_scaling_policy_answers_with_the_policy_arn(aws):
    """AWS's PutScalingPolicy returns PolicyARN (moto alone names it PolicyArn, which boto3 drops)."""
    group = _group("answered")
    arn = boto3.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=group, PolicyName="out", AdjustmentType="ChangeInCapacity", ScalingAdjustment=1
    )["PolicyARN"]
    assert rules.policy_from_arn(arn) == (group, "out")


def test_metric_math_point_by_point():
    series = {"m1": {0.0: 10.0, 60.0: 20.0}, "m2": {0.0: 2.0, 60.0: 0.0}}
    assert evaluate("m1 / m2", series.__getitem__) == {0.0: 5.0}  # a division by zero leaves the point out
    assert evaluate("(m1 + 2) * 3 - m1 ^ 2 / 4", series.__getitem__) == {0.0: 11.0, 60.0: -34.0}
    assert evaluate("-m1 + 1", series.__getitem__) == {0.0: -9.0, 60.0: -19.0}
    with pytest.raises(ExpressionError, match="function"):
        evaluate("SUM(METRICS())", series.__getitem__)
    results = metric_math(
        [
            {"Id": "m1", "ReturnData": False},
            {"Id": "e1", "Expression": "m1 * 2", "Label": "double"},
            {"Id": "e2", "Expression": "FILL(m1, 0)"},
        ],
        [{"Id": "m1", "Timestamps": [0.0], "Values": [10.0]}],
    )
    assert [(r["Id"], r["StatusCode"], r["Values"]) for r in results] == [
        ("e1", "Complete", [20.0]),
        ("e2", "InternalError", []),
    ]


def test_runs_only_against_this_machine():
    assert fillers.local_only(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4600", "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:4601"}
    )
    assert not fillers.local_only({})  # no endpoint: boto3 would call AWS
    assert not fillers.local_only(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4600", "AWS_ENDPOINT_URL_EC2": "https://ec2.amazonaws.com"}
    )


# ----------------------------------------------------------------------------- the process, on the embedded backend


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_the_embedded_backend_runs_the_fillers_end_to_end(embedded_lab, make_scaling_group):
    """One process started with the servers: it publishes AWS/SQS for every queue, alarms see only their own
    queue, an alarm whose action is a policy ARN scales the group, and the activity says why."""
    from labkit.backends import embedded

    state = embedded.read_state()
    assert state.fillers is not None and embedded.is_alive(state.fillers)
    sqs, cloudwatch, autoscaling = boto3.client("sqs"), boto3.client("cloudwatch"), boto3.client("autoscaling")
    busy = sqs.create_queue(QueueName="fill-busy")["QueueUrl"]
    sqs.create_queue(QueueName="fill-idle")
    group = "fill-group"
    make_scaling_group(group, max_size=10)
    arn = _policy_arn(group, "out", PolicyType="SimpleScaling", AdjustmentType="ChangeInCapacity", ScalingAdjustment=4)
    for queue, alarm in (("fill-busy", "busy-high"), ("fill-idle", "idle-high")):
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": queue}],
            Statistic="Maximum",
            Period=10,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[arn],
        )
    sqs.send_message_batch(QueueUrl=busy, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])
    assert _wait_for(lambda: _desired(group) == 5), "the busy queue's alarm did not scale the group out"
    states = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert states == {"busy-high": "ALARM", "idle-high": "OK"}  # each alarm watches its own queue only

    def causes() -> list[str]:
        return [a["Cause"] for a in autoscaling.describe_scaling_activities(AutoScalingGroupName=group)["Activities"]]

    # the activity can land a moment after the desired capacity (one CI run read it too early)
    cause = "a monitor alarm busy-high in state ALARM triggered policy out"
    assert _wait_for(lambda: any(cause in c for c in causes()), timeout=5.0), causes()

    end = datetime.now(timezone.utc)
    stat = {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible"}, "Period": 60}
    stat["Metric"]["Dimensions"] = [{"Name": "QueueName", "Value": "fill-busy"}]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "m1", "MetricStat": {**stat, "Stat": "Maximum"}, "ReturnData": False},
            {"Id": "e1", "Expression": "m1 / 2", "Label": "half"},
        ],
        StartTime=end - timedelta(minutes=2),
        EndTime=end + timedelta(minutes=1),
    )["MetricDataResults"]
    assert [(r["Id"], r["StatusCode"]) for r in answer] == [("e1", "Complete")] and max(answer[0]["Values"]) == 5.0

    lines = "\n".join(embedded.Embedded().status().lines)
    assert "fillers" in lines and "publishes AWS/SQS metrics for every queue" in lines and "scaling actions" in lines
    assert "fillers" in embedded.stop() and not embedded.is_alive(state.fillers)
