"""moto's server with Auto Scaling activities recorded, run by path with the servers' Python (``.venv-server``):

    .venv-server/bin/python labkit/backends/embedded/moto_fixes.py -H 127.0.0.1 -p <port>

It imports only the standard library and moto (labkit is not installed there), applies the fix
below, then runs moto's own server ``main()``.

moto 5.2.5 answers ``DescribeScalingActivities`` with an empty list, always. AWS lists one activity
per instance launched or terminated, with its cause
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-verify-scaling-activity.html). Here
``CreateAutoScalingGroup`` and ``SetDesiredCapacity`` record those activities, worded as AWS words
them: a user's request, or, when labkit's backend scales for a policy (``labkit.backends.embedded.fillers``),
the cause it sends in the ``X-Labkit-Cause`` header ("a monitor alarm ... triggered policy ...").
Other calls that change capacity (``UpdateAutoScalingGroup``, ``TerminateInstanceInAutoScalingGroup``
...) record nothing here. Activities live with their account and region and go with ``/moto-api/reset``.

Also, ``PutScalingPolicy`` answers with the new policy's ``PolicyARN``, as AWS does
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScalingPolicy.html); moto 5.2.5 names
the member ``PolicyArn``, so boto3 drops it.

And instances run: ``instance_hooks.py`` (loaded by path, like this file) makes each instance's user data a
process group (``instances.py``) with a metadata service (``imds.py``), configured by the JSON in
``LABKIT_INSTANCES`` that ``lifecycle.py`` sets (``home``, the SDK ``env`` an instance gets, the
``credentials`` its metadata service hands out). Without that variable (moto run some other way) they
stay records. The same settings make Elastic Beanstalk environments serve their application versions, each a
local process (``beanstalk_hooks.py`` completes moto's Elastic Beanstalk, ``beanstalk.py`` serves).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

CAUSE_HEADER = "X-Labkit-Cause"
INSTANCES_ENV = "LABKIT_INSTANCES"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _activities(backend: Any, group: str) -> list[Any]:
    store: dict[str, list[Any]] = backend.__dict__.setdefault("labkit_activities", {})
    return store.setdefault(group, [])


def record(backend: Any, group_name: str, before: set[str], old: int, cause: str) -> None:
    """One activity per instance started or terminated since ``before``, each with the whole cause."""
    from moto.autoscaling.models import Activity

    group = backend.autoscaling_groups[group_name]
    now = datetime.now(timezone.utc)
    new = group.desired_capacity
    after = {state.instance.id for state in group.instance_states}
    started, stopped = sorted(after - before), sorted(before - after)
    if not started and not stopped:
        return
    if started:
        cause += (
            f" At {_stamp(now)} an instance was started in response to a difference between desired and"
            f" actual capacity, increasing the capacity from {old} to {new}."
        )
    else:
        cause += (
            f" At {_stamp(now)} an instance was taken out of service in response to a difference between"
            f" desired and actual capacity, shrinking the capacity from {old} to {new}."
        )
    for verb, ids in (("Launching a new EC2 instance", started), ("Terminating EC2 instance", stopped)):
        for instance in ids:
            activity = Activity(f"{verb}: {instance}", cause, group, start_time=now, end_time=now)
            activity.status_code = "Successful"
            activity.progress = 100
            _activities(backend, group_name).append(activity)


def apply() -> Callable[[], None]:
    """Patch moto's Auto Scaling responses in this process; returns what undoes it (for tests)."""
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    original_create = AutoScalingResponse.create_auto_scaling_group
    original_set = AutoScalingResponse.set_desired_capacity
    original_put = AutoScalingResponse.put_scaling_policy

    def create_auto_scaling_group(self: Any) -> Any:
        result = original_create(self)
        name = self._get_param("AutoScalingGroupName")
        group = self.autoscaling_backend.autoscaling_groups[name]
        now = _stamp(datetime.now(timezone.utc))
        cause = (
            f"At {now} a user request created an AutoScalingGroup changing the desired capacity"
            f" from 0 to {group.desired_capacity}."
        )
        record(self.autoscaling_backend, name, set(), 0, cause)
        return result

    def set_desired_capacity(self: Any) -> Any:
        name = self._get_param("AutoScalingGroupName")
        group = self.autoscaling_backend.autoscaling_groups.get(name)
        before = {state.instance.id for state in group.instance_states} if group else set()
        old = group.desired_capacity if group else 0
        result = original_set(self)
        given = self.headers.get(CAUSE_HEADER)
        cause = (
            urllib.parse.unquote(given)
            if given
            else f"At {_stamp(datetime.now(timezone.utc))} a user request explicitly set group desired capacity"
            f" changing the desired capacity from {old} to {self._get_int_param('DesiredCapacity')}."
        )
        record(self.autoscaling_backend, name, before, old, cause)
        return result

    def put_scaling_policy(self: Any) -> Any:
        original_put(self)
        policy = self.autoscaling_backend.policies[self._get_param("PolicyName")]
        return ActionResult({"PolicyARN": policy.arn, "Alarms": []})

    def describe_scaling_activities(self: Any) -> Any:
        name = self._get_param("AutoScalingGroupName")
        wanted = set(self._get_param("ActivityIds", []))
        store = self.autoscaling_backend.__dict__.get("labkit_activities", {})
        found = [a for group, acts in store.items() if not name or group == name for a in acts]
        found = [a for a in found if not wanted or a.activity_id in wanted]
        found.sort(key=lambda a: a.start_time, reverse=True)  # newest first, as AWS lists them
        return ActionResult({"Activities": found[: int(self._get_param("MaxRecords") or 100)]})

    patched = {
        "create_auto_scaling_group": create_auto_scaling_group,
        "set_desired_capacity": set_desired_capacity,
        "describe_scaling_activities": describe_scaling_activities,
        "put_scaling_policy": put_scaling_policy,
    }
    originals = {name: getattr(AutoScalingResponse, name) for name in patched}
    for name, method in patched.items():
        setattr(AutoScalingResponse, name, method)

    def undo() -> None:
        for name, method in originals.items():
            setattr(AutoScalingResponse, name, method)

    return undo


def load(name: str) -> ModuleType:
    """A module of this directory, loaded by path as ``labkit_<name>`` (once), the key ``instance_hooks`` uses."""
    key = f"labkit_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def run_instances(raw: str | None) -> None:
    """Make instances run (``instance_hooks.py``) and Beanstalk environments serve (``beanstalk_hooks.py``),
    as ``LABKIT_INSTANCES`` configures it."""
    if not raw:
        return
    settings = json.loads(raw)
    home, env, credentials = Path(settings["home"]), settings["env"], settings["credentials"]
    load("instance_hooks").apply(home, env, credentials)
    load("beanstalk_hooks").apply(home, env, credentials, load)


if __name__ == "__main__":
    apply()
    run_instances(os.environ.pop(INSTANCES_ENV, None))
    from moto.server import main

    main(sys.argv[1:])
