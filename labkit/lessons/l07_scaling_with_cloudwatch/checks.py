"""Checks for 07-scaling-with-cloudwatch."""

from __future__ import annotations

import threading
import time
import uuid

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.aws.sqs import depth
from labkit.course.checks import Result, hint, passed, unavailable
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, newest, suffix_of
from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimConfig, SimpleRule, simulate

MAX_WAIT_MIN = 3.0
# The spike day needs at least 33 instance-hours: 1 instance all day for the 20 messages a second
# (24 h), and 9 more for the spike's extra 180 a second during its hour. 42 leaves 9 for booting
# instances and for scaling in a little late; the starting rule needs more.
MIN_INSTANCE_HOURS = 33.0
MAX_INSTANCE_HOURS = 42.0


@exercise(1, "tune the starting rule", notebook_only="my_rule and my_cooldown exist only in your kernel")
def tuned_rule(rule: SimpleRule, cooldown_s: int) -> Result:
    """Re-simulate the spike day with the learner's rule: worst wait under 3 min within 42 instance-hours."""
    if not isinstance(rule, SimpleRule):
        return hint("my_rule should be a SimpleRule(high=..., scale_out=..., low=..., scale_in=...)")
    result = simulate(SimConfig(rule=rule, pattern="spike", cooldown_s=int(cooldown_s)))
    wait, hours = result.wait_s.max() / 60, result.instance_hours
    if wait >= MAX_WAIT_MIN:
        return hint(
            f"the worst wait is {wait:.1f} min (goal: under {MAX_WAIT_MIN:g}); add more instances per action, "
            "or shorten the cooldown so the next action comes sooner"
        )
    if hours > MAX_INSTANCE_HOURS:
        return hint(
            f"{hours:.1f} instance-hours is over the budget of {MAX_INSTANCE_HOURS:g}: scale in sooner or by more"
        )
    return passed(f"worst wait {wait:.1f} min with {hours:.1f} instance-hours (at least {MIN_INSTANCE_HOURS:g} needed)")


def _policy_alarms(policy_arn: str) -> list[str]:
    """The alarms whose ALARM actions name this policy."""
    pages = boto3.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    return [a["AlarmName"] for page in pages for a in page["MetricAlarms"] if policy_arn in a.get("AlarmActions", [])]


@exercise(2, "a step scaling policy on the high alarm", looks_for="Auto Scaling group labkit-07-consumers-<suffix>")
def step_policy(group: str, policy_name: str) -> Result:
    """The group has a step scaling policy (+5 for 0–2,000 above the threshold, +8 from 2,000) that an alarm runs."""
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
    if steps != wanted:
        return hint(f"the steps are {steps}; expected {wanted} as (lower bound, upper bound, adjustment)")
    alarms = _policy_alarms(policy["PolicyARN"])
    if not alarms:
        return hint(
            f"no alarm runs {policy_name} yet: put_metric_alarm the high alarm again with AlarmActions=[its PolicyARN]"
        )
    return passed(f"{policy_name}: +5 from 0 to 2,000 above the threshold, +8 beyond; run by {', '.join(alarms)}")


GOOD, POISON = 23, 2


@exercise(3, "a consumer that deletes only what it handled", notebook_only="my_consume is a function in your kernel")
def consumer_loop(consume) -> Result:
    """Run the learner's consumer on a queue of its own: 23 good messages and 2 its handler cannot process."""
    if not callable(consume):
        return hint("my_consume should be a function: def my_consume(queue_url, handle, keep_going): ...")
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"labkit-07-check-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    try:
        bodies = [f"job-{n}" for n in range(GOOD)] + [f"poison-{n}" for n in range(POISON)]
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
            )
        handled: list[str] = []
        raised: list[BaseException] = []
        stop = threading.Event()

        def handle(message: dict) -> None:
            if message["Body"].startswith("poison"):
                raise ValueError(f"cannot process {message['Body']}")
            handled.append(message["Body"])

        def run() -> None:
            try:
                consume(url, handle, lambda: not stop.is_set())
            except BaseException as err:  # the learner's function: anything may come out of it
                raised.append(err)

        thread = threading.Thread(target=run, daemon=True, name="labkit-07-check-consumer")
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(set(handled)) < GOOD and thread.is_alive():
            time.sleep(0.1)
        time.sleep(0.5)  # let it delete the last batch
        stop.set()
        thread.join(3)
        if thread.is_alive():
            return hint(
                "my_consume was still running 3 s after keep_going() turned False: check keep_going() before each "
                "receive, and long-poll for a second or two at most (WaitTimeSeconds) so it notices"
            )
        if raised:
            return hint(
                f"my_consume stopped with {type(raised[0]).__name__}: {raised[0]}; catch the error handle raises for "
                "one message, leave that message undeleted, and go on with the others"
            )
        visible, in_flight = depth(sqs, url)
        if len(set(handled)) < GOOD:
            return hint(f"handle ran for {len(set(handled))} of the {GOOD} good messages: receive until keep_going()")
        if visible + in_flight < POISON:
            return hint("the messages whose handle failed were deleted too: delete only the messages handled")
        if visible + in_flight > POISON:
            return hint(f"{visible + in_flight - POISON} handled messages are still in the queue: delete them")
        return passed(f"{GOOD} handled and deleted; the {POISON} that failed stay in the queue for another try")
    finally:
        sqs.delete_queue(QueueUrl=url)


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("07")


@step_policy.finder
def _scaling_group(scan: Scan) -> list[Candidate]:
    groups = scan.pages("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups")
    names = [g["AutoScalingGroupName"] for g in newest(groups, "CreatedTime")]
    return [Candidate(n, (n, "scale-out-steps")) for n in names if suffix_of("labkit-07-consumers-{s}", n)]
