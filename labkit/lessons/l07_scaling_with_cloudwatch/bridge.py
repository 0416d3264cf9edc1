"""Alarm → Auto Scaling, on backends whose alarms can only notify SNS.

On AWS, an alarm's action can be a scaling policy's ARN: when the alarm goes to
ALARM, Auto Scaling runs the policy, and keeps running it once per evaluation
period while the alarm stays in ALARM (cooldowns permitting). The embedded
backend's alarms evaluate and notify SNS, but nothing calls Auto Scaling. The
bridge fills exactly that gap, visibly: it subscribes a queue of its own to the
alarm topic, and for each ALARM notification applies the policy the alarm is
mapped to with ``set_desired_capacity``, logging what AWS would have done.
It is never used on real AWS.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import boto3
import botocore.exceptions

from labkit.lessons.l07_scaling_with_cloudwatch.groups import ManagedGroup, SelfRunGroup, as_group
from labkit.lessons.l07_scaling_with_cloudwatch.policy import adjustment, breach_from_reason, new_capacity


@dataclass(frozen=True)
class Action:
    at: float  # seconds since the bridge started
    alarm: str
    policy: str
    old: int
    new: int
    note: str

    def __str__(self) -> str:
        return f"{self.at:5.1f}s  {self.alarm} → {self.policy}: desired {self.old} → {self.new}  ({self.note})"


class AlarmBridge:
    """Apply scaling policies when their alarms fire, as AWS would (``policies``: alarm name → policy name)."""

    def __init__(
        self,
        group: str | ManagedGroup | SelfRunGroup,
        topic_arn: str,
        policies: dict[str, str],
        *,
        period_s: float,
        inbox_name: str,
    ):
        self.group = as_group(group)
        self.topic_arn = topic_arn
        self.policies = policies
        self.period_s = period_s
        self.inbox_name = inbox_name
        self.actions: list[Action] = []
        self._sqs = boto3.client("sqs")
        self._cloudwatch = boto3.client("cloudwatch")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_action = -1e9
        self._last_repeat: dict[str, float] = {}
        self._t0 = time.monotonic()
        self.inbox_url: str | None = None
        self.subscription_arn: str | None = None

    def start(self) -> AlarmBridge:
        sns = boto3.client("sns")
        self.inbox_url = self._sqs.create_queue(QueueName=self.inbox_name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.inbox_url, AttributeNames=["QueueArn"])["Attributes"]
        self.subscription_arn = sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=arn["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-alarm-bridge")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.subscription_arn:
            boto3.client("sns").unsubscribe(SubscriptionArn=self.subscription_arn)
        if self.inbox_url:
            self._sqs.delete_queue(QueueUrl=self.inbox_url)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self.inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                for message in messages:
                    self._on_notification(json.loads(message["Body"]))
                    self._sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])
                self._repeat_while_in_alarm()
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ValueError):
                if self._stop.wait(0.5):
                    return

    def _on_notification(self, note: dict) -> None:
        alarm = note.get("AlarmName")
        if note.get("NewStateValue") != "ALARM" or alarm not in self.policies:
            return
        threshold = float(note.get("Trigger", {}).get("Threshold", 0))
        self.apply(alarm, breach_from_reason(note.get("NewStateReason", ""), threshold), "alarm went to ALARM")

    def _repeat_while_in_alarm(self) -> None:
        """AWS re-runs a scaling action once per period while its alarm stays in ALARM."""
        now = time.monotonic()
        due = [a for a in self.policies if now - self._last_repeat.get(a, now) >= self.period_s]
        if not due:
            return
        for alarm in self._cloudwatch.describe_alarms(AlarmNames=due)["MetricAlarms"]:
            if alarm["StateValue"] == "ALARM":
                breach = breach_from_reason(alarm.get("StateReason", ""), alarm["Threshold"])
                self.apply(alarm["AlarmName"], breach, "still in ALARM")

    def apply(self, alarm: str, breach: float | None, why: str) -> Action | None:
        """Run the alarm's policy once: compute the new desired capacity and set it, honouring the cooldown."""
        now = time.monotonic()
        self._last_repeat[alarm] = now
        name = self.policies[alarm]
        policy = self.group.policy(name)
        group = self.group.describe()
        # A policy's own cooldown wins (even 0); without one, the group's default applies.
        cooldown = policy["Cooldown"] if policy.get("Cooldown") is not None else group.get("DefaultCooldown", 300)
        if now - self._last_action < cooldown:
            return None
        kind, change = adjustment(policy, breach)
        old = group["DesiredCapacity"]
        new = new_capacity(kind, change, old, group["MinSize"], group["MaxSize"])
        if new == old:
            return None
        self.group.set_desired_capacity(new)
        self._last_action = now
        sign = f"{change:+d}" if kind == "ChangeInCapacity" else f"{kind} {change}"
        action = Action(round(now - self._t0, 1), alarm, name, old, new, f"{why}; AWS would execute {name} ({sign})")
        self.actions.append(action)
        return action
