"""The group a fleet follows: a real Auto Scaling group, or labkit's own where a backend has none.

Both answer the same few questions the fleet and the alarm bridge ask. ``ManagedGroup`` asks
Auto Scaling (AWS, or moto on the embedded backend). ``SelfRunGroup`` is the fallback for
LocalStack's community edition, which has no Auto Scaling: it keeps the desired capacity and
the policies itself, and its "instances" are names, so the same alarms, bridge and consumers
still run — the lesson says when this is in use.
"""

from __future__ import annotations

import threading

import boto3


class ManagedGroup:
    def __init__(self, name: str):
        self.name = name
        self._autoscaling = boto3.client("autoscaling")

    def describe(self) -> dict:
        """DesiredCapacity, MinSize, MaxSize, DefaultCooldown and Instances, as Auto Scaling reports them."""
        return self._autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])["AutoScalingGroups"][0]

    def in_service(self) -> list[str]:
        return sorted(i["InstanceId"] for i in self.describe()["Instances"] if i["LifecycleState"] == "InService")

    def policy(self, name: str) -> dict:
        return self._autoscaling.describe_policies(AutoScalingGroupName=self.name, PolicyNames=[name])[
            "ScalingPolicies"
        ][0]

    def set_desired_capacity(self, desired: int) -> None:
        self._autoscaling.set_desired_capacity(AutoScalingGroupName=self.name, DesiredCapacity=desired)


class SelfRunGroup:
    """labkit's stand-in for an Auto Scaling group: desired capacity, bounds and policies, kept in memory.

    ``policies`` maps a policy name to the arguments ``put_scaling_policy`` would take
    (``AdjustmentType``, ``ScalingAdjustment`` or ``StepAdjustments``, ``Cooldown``).
    """

    def __init__(
        self,
        name: str,
        *,
        min_size: int,
        max_size: int,
        desired: int,
        policies: dict[str, dict],
        default_cooldown: int = 300,
    ):
        self.name = name
        self.min_size, self.max_size = min_size, max_size
        self.desired = desired
        self.policies = policies
        self.default_cooldown = default_cooldown
        self._lock = threading.Lock()

    def describe(self) -> dict:
        with self._lock:
            return {
                "AutoScalingGroupName": self.name,
                "DesiredCapacity": self.desired,
                "MinSize": self.min_size,
                "MaxSize": self.max_size,
                "DefaultCooldown": self.default_cooldown,
                "Instances": [
                    {"InstanceId": f"self-run-{i + 1}", "LifecycleState": "InService"} for i in range(self.desired)
                ],
            }

    def in_service(self) -> list[str]:
        return [i["InstanceId"] for i in self.describe()["Instances"]]

    def policy(self, name: str) -> dict:
        return {"PolicyName": name, **self.policies[name]}

    def set_desired_capacity(self, desired: int) -> None:
        with self._lock:
            self.desired = max(self.min_size, min(self.max_size, desired))


def as_group(group: str | ManagedGroup | SelfRunGroup) -> ManagedGroup | SelfRunGroup:
    """An Auto Scaling group name becomes a ManagedGroup; a group object is used as it is."""
    return ManagedGroup(group) if isinstance(group, str) else group
