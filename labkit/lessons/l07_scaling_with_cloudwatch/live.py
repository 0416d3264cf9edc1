"""A live scaling run on the backend: consumers, the metric, the alarm bridge, and a sampler.

``LiveRun`` starts what the lesson does not teach but needs running: the fleet's
worker threads, the AWS/SQS metric where the backend does not publish it, the
alarm bridge where alarms cannot call Auto Scaling, and a sampler that records
the queue's pressure twice a second for the gauge.
"""

from __future__ import annotations

import asyncio
import threading
import time

import boto3
import botocore.exceptions

from labkit.aws.sqs import depth
from labkit.lessons.l07_scaling_with_cloudwatch.fleet import Fleet
from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory


class LiveRun:
    def __init__(
        self,
        queue_url: str,
        queue_name: str,
        fleet: Fleet,
        *,
        alarms: list[str],
        bridge=None,
        sample_every: float = 0.5,
    ):
        self.queue_url = queue_url
        self.fleet = fleet
        self.alarms = alarms
        self.bridge = bridge
        self.history = PressureHistory()
        self.sample_every = sample_every
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> LiveRun:
        self._t0 = time.monotonic()
        self.fleet.start()
        if self.bridge:
            self.bridge.start()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True, name="labkit-sampler")
        self._sampler.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sampler:
            self._sampler.join(5)
        if self.bridge:
            self.bridge.stop()
        self.fleet.stop()

    def _sample_loop(self) -> None:
        sqs, cloudwatch = boto3.client("sqs"), boto3.client("cloudwatch")
        while not self._stop.is_set():
            try:
                visible, in_flight = depth(sqs, self.queue_url)
                states = {
                    a["AlarmName"]: a["StateValue"]
                    for a in cloudwatch.describe_alarms(AlarmNames=self.alarms)["MetricAlarms"]
                }
                desired = self.fleet.group.describe()["DesiredCapacity"]
                working, booting = self.fleet.counts()
                self.history.add(
                    round(time.monotonic() - self._t0, 1),
                    visible,
                    in_flight,
                    working,
                    booting,
                    desired,
                    states,
                    self.fleet.processed,
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                pass
            self._stop.wait(self.sample_every)

    def elapsed(self) -> float:
        """Seconds since the run started, on the same clock as the history."""
        return round(time.monotonic() - self._t0, 1)

    def settled(self, min_size: int, since: float = 0.0) -> bool:
        """Since ``since``, the queue had work, is now empty, and the fleet is back at its minimum."""
        h = self.history
        recent = [i for i, t in enumerate(h.t) if t > since]
        if not recent or max(h.visible[i] + h.in_flight[i] for i in recent) == 0:
            return False
        last = recent[-1]
        return h.visible[last] == 0 and h.in_flight[last] == 0 and h.desired[last] <= min_size

    async def until_settled(self, min_size: int, *, since: float, timeout: float, gauge=None) -> bool:
        """Wait, without blocking the notebook's event loop, until settled or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.settled(min_size, since):
            if gauge is not None:
                gauge.refresh()
            await asyncio.sleep(0.5)
        if gauge is not None:
            gauge.refresh()
        return self.settled(min_size, since)
