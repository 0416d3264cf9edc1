"""labkit's fillers: what the embedded backend lacks and the course relies on, as one process.

    python -m labkit.backends.embedded.fillers      (started by ``labkit.backends.embedded`` with its servers)

It runs with labkit's Python and plain boto3 against the embedded servers (the SDK settings it is
started with), in the one account and region of the embedded backend, and refuses any endpoint
that is not on 127.0.0.1: it never runs against AWS. Every ``metrics_s`` seconds it

1. **publishes the AWS/SQS metrics** SQS publishes on AWS once a minute (ApproximateNumberOfMessages
   Visible, ...NotVisible, ...Delayed; dimension QueueName) for every queue, and the AWS/AutoScaling
   group metrics a group enabled with ``EnableMetricsCollection`` (dimension AutoScalingGroupName):
   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html;
2. **bridges alarms to Auto Scaling**: an alarm whose actions for its current state name a scaling
   policy's ARN runs that policy when it enters the state, and again every ``repeat_s`` seconds
   while it stays there (AWS: once a minute), with AWS's rules for simple and step scaling
   (``labkit.backends.embedded.scaling_rules``);
3. **runs target tracking policies**: AWS creates and watches their alarms itself; here the
   process evaluates the policy's metric (metric math included) from the published metrics and
   sets the capacity target tracking would. moto records no alarms for such a policy, and none are
   faked: ``describe_policies`` shows none.

Each scaling action goes through ``SetDesiredCapacity`` with its cause in a header, which labkit's
moto launcher (``moto_fixes.py``) records as the scaling activities ``DescribeScalingActivities``
lists. What the process did so far is in ``fillers.json`` in ``LABKIT_HOME`` (``labkit status``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from labkit.backends.embedded import scaling_rules as rules
from labkit.backends.embedded.fillers_config import STATUS_FILE, Settings, Status, local_only
from labkit.backends.embedded.ministack_fixes import metric_math

CAUSE_HEADER = "X-Labkit-Cause"
QUEUE_METRICS = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
_REASON = re.compile(r"(?:Average|Maximum|Minimum|Sum|SampleCount)\s+([-\d.eE+]+)")
ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GroupGone(LookupError):
    """A policy's group no longer exists."""


class Fillers:
    """One pass of every filler per ``tick()``; the clocks are injectable so tests can move time."""

    def __init__(
        self,
        settings: Settings,
        *,
        clients: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        status_path: Path | None = None,
    ):
        clients = clients or {}
        self.settings = settings
        self.sqs = clients.get("sqs") or boto3.client("sqs")
        self.cloudwatch = clients.get("cloudwatch") or boto3.client("cloudwatch")
        self.autoscaling = clients.get("autoscaling") or boto3.client("autoscaling")
        self.clock, self.wall = clock, wall
        self.status_path = status_path
        self.status = Status(asdict(settings))
        self._cause: str | None = None
        self.autoscaling.meta.events.register("before-sign.auto-scaling.SetDesiredCapacity", self._add_cause)
        self._next_metrics = 0.0
        self._alarm_seen: dict[str, tuple[str, Any]] = {}  # alarm → (state, when it entered it)
        self._alarm_ran: dict[str, float] = {}  # alarm → when it last ran its policies
        self._cooldown_until: dict[str, float] = {}  # group → end of its simple-scaling cooldown
        self._warming: dict[str, dict[str, float]] = {}  # group → instance → end of its warmup
        self._below: dict[str, int] = {}  # target tracking policy → evaluations below the target in a row
        self._logged: set[str] = set()
        self._write_status()  # a fresh status, not the one a process before this one left

    # --- the loop ---------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        if now >= self._next_metrics:
            self._next_metrics = now + self.settings.metrics_s
            for step in (self.publish_queue_metrics, self.publish_group_metrics, self.track_targets):
                with self._surviving():
                    step()
            self._write_status()
        with self._surviving():
            self.bridge_alarms()

    @contextlib.contextmanager
    def _surviving(self) -> Iterator[None]:
        """Whatever one step meets (a group deleted under it, a server restarting), the process goes on.
        An API error is routine; anything else is written to the log, once per kind."""
        try:
            yield
        except (*ERRORS, GroupGone):
            pass
        except Exception as err:
            kind = f"{type(err).__name__}: {err}"
            if kind not in self._logged:
                self._logged.add(kind)
                traceback.print_exc()

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            with self._surviving():
                self.tick()
            time.sleep(min(0.25, self.settings.metrics_s))

    # --- 1. metrics -------------------------------------------------------------------

    def publish_queue_metrics(self) -> int:
        urls = self.sqs.list_queues().get("QueueUrls", [])
        data = []
        for url in urls:
            try:
                attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_METRICS.values()))
            except ERRORS:
                continue  # deleted meanwhile
            values = attrs.get("Attributes", {})
            name = url.rstrip("/").rsplit("/", 1)[-1]
            for metric, attribute in QUEUE_METRICS.items():
                data.append(
                    {
                        "MetricName": metric,
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                        "Value": float(values.get(attribute, 0)),
                        "Unit": "Count",
                    }
                )
        self._put("AWS/SQS", data)
        return len(data)

    def publish_group_metrics(self) -> int:
        data = []
        for group in self._groups():
            enabled = {m["Metric"] for m in group.get("EnabledMetrics", [])}
            if not enabled:
                continue
            states = [i["LifecycleState"] for i in group.get("Instances", [])]
            counts = {
                "GroupMinSize": group["MinSize"],
                "GroupMaxSize": group["MaxSize"],
                "GroupDesiredCapacity": group["DesiredCapacity"],
                "GroupInServiceInstances": states.count("InService"),
                "GroupPendingInstances": sum(s.startswith("Pending") for s in states),
                "GroupStandbyInstances": sum(s.startswith("Standby") for s in states),
                "GroupTerminatingInstances": sum(s.startswith("Terminating") for s in states),
                "GroupTotalInstances": len(states),
            }
            counts.update({k.replace("Instances", "Capacity"): v for k, v in counts.items() if k.endswith("Instances")})
            dims = [{"Name": "AutoScalingGroupName", "Value": group["AutoScalingGroupName"]}]
            data += [
                {"MetricName": m, "Dimensions": dims, "Value": float(v)} for m, v in counts.items() if m in enabled
            ]
        self._put("AWS/AutoScaling", data)
        return len(data)

    def _put(self, namespace: str, data: list[dict[str, Any]]) -> None:
        at = datetime.fromtimestamp(self.wall(), timezone.utc)
        data = [{**datum, "Timestamp": at, "StorageResolution": 1} for datum in data]  # per-second data
        for start in range(0, len(data), 500):  # AWS takes up to 1,000 per call
            self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])
        self.status.metrics_published += len(data)

    def _groups(self) -> list[dict[str, Any]]:
        pages = self.autoscaling.get_paginator("describe_auto_scaling_groups").paginate()
        return [g for page in pages for g in page["AutoScalingGroups"]]

    # --- 2. alarm → scaling policy ----------------------------------------------------

    def bridge_alarms(self) -> None:
        now = self.clock()
        for alarm in self.cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"]).get("MetricAlarms", []):
            name, state = alarm["AlarmName"], alarm["StateValue"]
            field_name = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(state, "InsufficientDataActions")
            targets = [t for t in map(rules.policy_from_arn, alarm.get(field_name) or []) if t]
            entered = (state, alarm.get("StateUpdatedTimestamp"))
            new_state = self._alarm_seen.get(name) != entered
            self._alarm_seen[name] = entered
            if not targets or not alarm.get("ActionsEnabled", True):
                continue
            if not new_state and now - self._alarm_ran.get(name, -1e18) < self.settings.repeat_s:
                continue
            self._alarm_ran[name] = now
            for group, policy in targets:
                with self._surviving():
                    self.run_policy(alarm, group, policy)

    def run_policy(self, alarm: dict[str, Any], group_name: str, policy_name: str) -> int | None:
        """Run one policy for an alarm, as Auto Scaling would; the new desired capacity, or None."""
        found = self.autoscaling.describe_policies(AutoScalingGroupName=group_name, PolicyNames=[policy_name])
        policies = found.get("ScalingPolicies", [])
        if not policies or policies[0].get("Enabled") is False:
            return None
        policy, now = policies[0], self.clock()
        described, group = self._group(group_name)
        kind = policy.get("PolicyType") or "SimpleScaling"
        if kind == "StepScaling":
            value = self._alarm_value(alarm, policy.get("MetricAggregationType") or "Average")
            new = None if value is None else rules.step_scaling(policy, group, value - float(alarm["Threshold"]))
            warmup = rules.warmup_seconds(policy, described)
        elif kind == "SimpleScaling":
            new = rules.simple_scaling(policy, group, now=now, cooldown_until=self._cooldown_until.get(group_name, 0))
            warmup = float(described.get("DefaultInstanceWarmup") or 0)
        else:
            return None  # target tracking has no alarm of the learner's to answer (see track_targets)
        if new is None:
            return None
        cause = rules.alarm_cause(
            _stamp(self.wall()), alarm["AlarmName"], alarm["StateValue"], policy_name, group.desired, new
        )
        self._set_capacity(group_name, group, new, cause, warmup)
        if kind == "SimpleScaling":
            cooldown = policy.get("Cooldown")
            self._cooldown_until[group_name] = now + float(
                described.get("DefaultCooldown", 300) if cooldown is None else cooldown
            )
        return new

    def _alarm_value(self, alarm: dict[str, Any], statistic: str) -> float | None:
        """The alarm's metric now, aggregated as the policy says, over the alarm's last period."""
        end = datetime.fromtimestamp(self.wall(), timezone.utc)
        period = int(alarm.get("Period") or 60)
        points = self.cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions") or [],
            StartTime=end - timedelta(seconds=period),
            EndTime=end + timedelta(seconds=1),
            Period=period,
            Statistics=[statistic],
        ).get("Datapoints", [])
        if points:
            return float(max(points, key=lambda p: p["Timestamp"])[statistic])
        match = _REASON.search(alarm.get("StateReason") or "")  # no new data: the value the alarm last saw
        return float(match.group(1)) if match else None

    # --- 3. target tracking -----------------------------------------------------------

    def track_targets(self) -> None:
        found = self.autoscaling.describe_policies(PolicyTypes=["TargetTrackingScaling"]).get("ScalingPolicies", [])
        for policy in found:
            if policy.get("Enabled") is False:
                continue
            with self._surviving():
                self.track_target(policy)

    def track_target(self, policy: dict[str, Any]) -> int | None:
        config = policy.get("TargetTrackingConfiguration") or {}
        value = self.target_metric(config)
        key = policy["PolicyARN"] if "PolicyARN" in policy else policy["PolicyName"]
        if value is None:
            self._below[key] = 0  # no data: target tracking never scales in on missing data
            return None
        target = float(config.get("TargetValue", 0))
        self._below[key] = self._below.get(key, 0) + 1 if value < target else 0
        group_name = policy["AutoScalingGroupName"]
        described, group = self._group(group_name)
        new = rules.target_tracking(
            value,
            target,
            group,
            below_for=self._below[key],
            scale_in_after=self.settings.tt_scale_in_after,
            disable_scale_in=bool(config.get("DisableScaleIn")),
        )
        if new is None:
            return None
        self._below[key] = 0
        side = "AlarmHigh" if new > group.desired else "AlarmLow"
        cause = (
            f"At {_stamp(self.wall())} labkit, standing in for the target tracking alarm {side} that AWS creates, "
            "found "
            f"the metric at {value:g} against the target {target:g} and triggered policy {policy['PolicyName']} "
            f"changing the desired capacity from {group.desired} to {new}."
        )
        self._set_capacity(group_name, group, new, cause, rules.warmup_seconds(policy, described))
        return new

    def target_metric(self, config: dict[str, Any]) -> float | None:
        """The latest value of a target tracking policy's customized metric (metric math included)."""
        queries = rules.target_queries(config)
        if not queries:
            return None  # predefined metrics (CPU, ALB requests) have no data on the embedded backend
        stats = [
            {"Id": q["Id"], "MetricStat": {"Period": self.settings.tt_period_s, **q["MetricStat"]}, "ReturnData": True}
            for q in queries
            if "MetricStat" in q
        ]
        end = datetime.fromtimestamp(self.wall(), timezone.utc)
        got = self.cloudwatch.get_metric_data(
            MetricDataQueries=stats,
            StartTime=end - timedelta(seconds=3 * self.settings.tt_period_s),
            EndTime=end + timedelta(seconds=1),  # the end is exclusive: include the point published just now
        )["MetricDataResults"]
        raw = [
            {"Id": r["Id"], "Timestamps": [t.timestamp() for t in r["Timestamps"]], "Values": r["Values"]} for r in got
        ]
        answer = [r for r in metric_math(queries, raw) if r["StatusCode"] == "Complete" and r["Values"]]
        if not answer:
            return None
        latest = max(range(len(answer[-1]["Timestamps"])), key=lambda i: answer[-1]["Timestamps"][i])
        return float(answer[-1]["Values"][latest])

    # --- scaling ----------------------------------------------------------------------

    def _group(self, name: str) -> tuple[dict[str, Any], rules.Group]:
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not found:  # deleted, while moto still lists its policies (AWS deletes them with the group)
            raise GroupGone(name)
        described = found[0]
        now = self.clock()
        warming = {i: t for i, t in self._warming.get(name, {}).items() if t > now}
        self._warming[name] = warming
        in_service = [i["InstanceId"] for i in described.get("Instances", []) if i["LifecycleState"] == "InService"]
        group = rules.Group(
            described["DesiredCapacity"],
            described["MinSize"],
            described["MaxSize"],
            in_service,
            frozenset(i for i in warming if i in in_service),
        )
        return described, group

    def _set_capacity(self, name: str, group: rules.Group, new: int, cause: str, warmup: float) -> None:
        self._cause = cause
        try:
            self.autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=new)
        finally:
            self._cause = None
        if warmup > 0 and new > group.desired:
            _, after = self._group(name)
            until = self.clock() + warmup
            self._warming.setdefault(name, {}).update({i: until for i in after.in_service if i not in group.in_service})
        self.status.actions = [*self.status.actions[-19:], f"{name}: {cause}"]
        self._write_status()

    def _add_cause(self, request: Any, **_: Any) -> None:
        if self._cause:
            request.headers[CAUSE_HEADER] = urllib.parse.quote(self._cause)

    def _write_status(self) -> None:
        if self.status_path is None:
            return
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.status), indent=1))
        tmp.replace(self.status_path)


def main() -> int:
    if not local_only(dict(os.environ)):
        print("labkit fillers: refusing to run without 127.0.0.1 endpoints (they are for the embedded backend only)")
        return 2
    settings = Settings.from_env(dict(os.environ))
    home = Path(os.environ.get("LABKIT_HOME") or ".")
    print(f"labkit fillers: {settings.describe()}", flush=True)
    Fillers(settings, status_path=home / STATUS_FILE).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
