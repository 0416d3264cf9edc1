"""A live scaling run, watched: a sampler that reads the queue and the group from CloudWatch.

The consumers are not here: each instance of the group runs the launch template's user data (on the
embedded backend a process group per instance, ``labkit.backends.embedded.instances``). ``LiveRun``
starts only what the lesson needs to *watch* them: one sampler thread that reads, twice a second, the
metrics the alarms and policies act on (``get_metric_data``: AWS/SQS visible and not visible messages,
AWS/AutoScaling desired and in-service capacity), and the group's instances by lifecycle state
(``describe_auto_scaling_groups``: InService, and Pending ones still booting), into a
``PressureHistory`` for the gauge. It publishes nothing, consumes nothing and scales nothing. A read
that fails goes into ``errors`` (its ``summary()`` line), and the sampler stops when the backend was
stopped or restarted under it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import boto3
import botocore.exceptions

from labkit import session
from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory


def metric_queries(queue_name: str, group: str, period: int) -> list[dict]:
    """The four metrics the gauge draws, as GetMetricData queries (Maximum over ``period`` seconds)."""

    def query(qid: str, namespace: str, name: str, dimension: str, value: str) -> dict:
        metric = {"Namespace": namespace, "MetricName": name, "Dimensions": [{"Name": dimension, "Value": value}]}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": period, "Stat": "Maximum"}}

    return [
        query("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name),
        query("in_flight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue_name),
        query("desired", "AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", group),
        query("in_service", "AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", group),
    ]


def group_counts(autoscaling, group: str) -> tuple[int, int]:
    """(InService instances, Pending ones) of the group, as Auto Scaling lists them."""
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    states = [i["LifecycleState"] for i in (found[0]["Instances"] if found else [])]
    return states.count("InService"), sum(1 for s in states if s.startswith("Pending"))


def latest(results: list[dict]) -> dict[str, float]:
    """Each result's newest value (GetMetricData may list them newest or oldest first)."""
    out = {}
    for result in results:
        pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))
        if pairs:
            out[result["Id"]] = float(pairs[-1][1])
    return out


class LiveRun:
    def __init__(
        self,
        queue_name: str,
        group: str,
        *,
        processed: Callable[[], int] | None = None,
        period: int = 1,
        sample_every: float = 0.5,
    ):
        self.group = group
        self.errors: list[str] = []  # every read that failed, once per kind
        self.queries = metric_queries(queue_name, group, period)
        self.period = period
        self.processed = processed
        self.history = PressureHistory()
        self.sample_every = sample_every
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> LiveRun:
        self._t0 = time.monotonic()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True, name="labkit-sampler")
        self._sampler.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sampler:
            self._sampler.join(5)

    def summary(self) -> str:
        """One line: the sampler's failures, if any."""
        if not self.errors:
            return "sampler: no failures"
        return f"sampler: {len(self.errors)} failed read(s); the last: {self.errors[-1]}"

    def _sample_loop(self) -> None:
        cloudwatch, autoscaling = boto3.client("cloudwatch"), boto3.client("autoscaling")
        last: dict[str, float] = {"visible": 0, "in_flight": 0, "desired": 0, "in_service": 0}
        last_error = ""
        while not self._stop.is_set():
            try:
                end = datetime.now(timezone.utc)
                results = cloudwatch.get_metric_data(
                    MetricDataQueries=self.queries,
                    StartTime=end - timedelta(seconds=max(5 * self.period, 10)),
                    EndTime=end + timedelta(seconds=1),
                )["MetricDataResults"]
                last.update(latest(results))
                working, booting = group_counts(autoscaling, self.group)
                self.history.add(
                    self.elapsed(),
                    last["visible"],
                    last["in_flight"],
                    last["desired"],
                    last["in_service"],
                    working,
                    booting,
                    self.processed() if self.processed else None,
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
                what = f"sampling CloudWatch: {session.describe(err)}"
                if what != last_error:  # once per kind of failure, not twice a second
                    self.errors.append(what)
                    last_error = what
                if session.is_backend_gone(err):
                    return
            self._stop.wait(self.sample_every)

    def elapsed(self) -> float:
        """Seconds since the run started, on the same clock as the history."""
        return round(time.monotonic() - self._t0, 1)

    def settled(self, min_size: int, since: float = 0.0) -> bool:
        """Since ``since``, the queue had work, is now empty, and the desired capacity is back at its minimum."""
        h = self.history.snapshot()
        recent = [i for i, t in enumerate(h.t) if t > since]
        if not recent or max(h.visible[i] + h.in_flight[i] for i in recent) == 0:
            return False
        last = recent[-1]
        return h.visible[last] == 0 and h.in_flight[last] == 0 and h.desired[last] <= min_size

    async def until_settled(self, min_size: int, *, since: float, timeout: float, gauge=None) -> bool:
        """Wait, without blocking the notebook's event loop, until settled or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        drawn = 0.0
        while time.monotonic() < deadline and not self.settled(min_size, since):
            if gauge is not None and time.monotonic() - drawn >= 1.0:  # a redraw a second: the consumers need the CPU
                gauge.refresh()
                drawn = time.monotonic()
            await asyncio.sleep(0.25)
        if gauge is not None:
            gauge.refresh()
        return self.settled(min_size, since)
