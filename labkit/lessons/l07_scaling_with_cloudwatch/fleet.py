"""Run the lesson's consumer once per InService instance of an Auto Scaling group.

On AWS each instance runs the consumer itself (from its user data or its image). On the
emulators an EC2 instance is a record, not a machine, so here each InService instance's
consumer is a thread in the notebook's kernel, running the function the lesson wrote:
``consumer(queue_url, handle, keep_going)``. The fleet watches the group, starts a thread
for every instance that comes into service (after ``boot_s``, its "boot"), and when an
instance leaves the group makes its ``keep_going()`` answer False, so the consumer finishes
the batch in hand and returns. The AWS calls (receive, delete) are the consumer's, not the
fleet's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import boto3
import botocore.exceptions

Consumer = Callable[[str, Callable[[dict], None], Callable[[], bool]], None]


def in_service(autoscaling, group: str) -> list[str]:
    """The group's InService instance ids."""
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return sorted(
        i["InstanceId"] for i in (found[0]["Instances"] if found else []) if i["LifecycleState"] == "InService"
    )


class Fleet:
    def __init__(self, group: str, queue_url: str, consumer: Consumer, handle: Callable[[dict], None], *, boot_s=2.0):
        self.group = group
        self.queue_url = queue_url
        self.consumer = consumer
        self.handle = handle
        self.boot_s = boot_s
        self.booting: dict[str, float] = {}  # instance id → when its consumer starts
        self.workers: dict[str, threading.Event] = {}  # instance id → set when the instance has left
        self.errors: list[str] = []  # what a consumer raised, if one did
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Fleet:
        thread = threading.Thread(target=self._supervise, daemon=True, name="labkit-fleet")
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for left in list(self.workers.values()):
            left.set()
        for thread in self._threads:
            thread.join(5)

    def counts(self) -> tuple[int, int]:
        """(instances whose consumer runs, instances still booting)."""
        with self._lock:
            return len(self.workers), len(self.booting)

    def _supervise(self) -> None:
        autoscaling = boto3.client("autoscaling")
        while not self._stop.is_set():
            try:
                current = set(in_service(autoscaling, self.group))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                current = set(self.workers) | set(self.booting)
            now = time.monotonic()
            with self._lock:
                for instance in current - set(self.workers) - set(self.booting):
                    self.booting[instance] = now + self.boot_s
                for instance in set(self.booting) - current:
                    del self.booting[instance]  # terminated before it finished booting
                for instance, ready in list(self.booting.items()):
                    if ready <= now:
                        del self.booting[instance]
                        self._start_worker(instance)
                for instance in set(self.workers) - current:
                    self.workers.pop(instance).set()  # its consumer finishes the batch in hand, then returns
            self._stop.wait(0.25)

    def _start_worker(self, instance: str) -> None:
        left = threading.Event()
        self.workers[instance] = left
        thread = threading.Thread(target=self._run, args=(left,), daemon=True, name=f"labkit-consumer-{instance}")
        thread.start()
        self._threads.append(thread)

    def _run(self, left: threading.Event) -> None:
        def keep_going() -> bool:
            return not left.is_set() and not self._stop.is_set()

        try:
            self.consumer(self.queue_url, self.handle, keep_going)
        except Exception as err:  # a learner's consumer may fail: say so instead of dying silently
            self.errors.append(f"{type(err).__name__}: {err}")
