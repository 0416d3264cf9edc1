"""Run the lesson's consumer once per InService instance of an Auto Scaling group.

On AWS each instance runs the consumer itself (from its user data or its image). On the
emulators an EC2 instance is a record, not a machine, so here each InService instance's
consumer is a thread in the notebook's kernel, running the function the lesson wrote:
``consumer(queue_url, handle, keep_going)``. The fleet watches the group, starts a thread
for every instance that comes into service (after ``boot_s``, its "boot"), and when an
instance leaves the group makes its ``keep_going()`` answer False, so the consumer finishes
the batch in hand and returns. The AWS calls (receive, delete) are the consumer's, not the
fleet's.

No consumer dies silently: every failure goes into ``errors`` (with its instance id), a consumer
that raised is started again after ``restart_after_s``, doubled after each failure in a row (its
messages come back after their visibility timeout), and after ``max_restarts`` failures in a row it
stays down, no longer counted as working, with the reason in ``down``. When the backend itself was
stopped or restarted (``labkit.session``) the whole fleet stops and ``stopped`` says so in one line.
``summary()`` is the one line the lesson prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import boto3
import botocore.exceptions

from labkit import session

Consumer = Callable[[str, Callable[[dict], None], Callable[[], bool]], None]


def in_service(autoscaling, group: str) -> list[str]:
    """The group's InService instance ids."""
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return sorted(
        i["InstanceId"] for i in (found[0]["Instances"] if found else []) if i["LifecycleState"] == "InService"
    )


class Fleet:
    def __init__(
        self,
        group: str,
        queue_url: str,
        consumer: Consumer,
        handle: Callable[[dict], None],
        *,
        boot_s=2.0,
        restart_after_s: float = 1.0,
        max_restarts: int = 3,
    ):
        self.group = group
        self.queue_url = queue_url
        self.consumer = consumer
        self.handle = handle
        self.boot_s = boot_s
        self.booting: dict[str, float] = {}  # instance id → when its consumer starts
        self.workers: dict[str, threading.Event] = {}  # instance id → set when the instance has left
        self.errors: list[str] = []  # every failure: a consumer that raised, the group that could not be read
        self.restart_after_s = restart_after_s
        self.max_restarts = max_restarts
        self.restarts = 0
        self.down: dict[str, str] = {}  # instance id → why its consumer stays down
        self.stopped = ""  # why the whole fleet stopped by itself ("" unless it did)
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
            return len(set(self.workers) - set(self.down)), len(self.booting)

    def summary(self) -> str:
        """One line: how the consumers fared (failures, restarts, any down) or why the fleet stopped."""
        with self._lock:
            errors, down = list(self.errors), dict(self.down)
        state = self.stopped or ("stopped" if self._stop.is_set() else f"{len(self.workers)} consumers running")
        if not errors:
            return f"fleet: {state}, no failures"
        parts = [f"{len(errors)} failure{'s' if len(errors) != 1 else ''}", f"restarted {self.restarts}×"]
        if down:
            parts.append(f"down: {', '.join(sorted(down))}")
        return f"fleet: {state}; {'; '.join(parts)}; the last: {errors[-1]}"

    def report(self, what: str) -> None:
        """Add a failure to ``errors`` (the fleet's own, and the gauge's sampler's)."""
        with self._lock:
            self.errors.append(what)

    def _halt(self, err: BaseException) -> None:
        """The backend went away under the fleet: stop every consumer, and say why."""
        self.stopped = f"stopped: {session.describe(err)}"
        self._stop.set()
        for left in list(self.workers.values()):
            left.set()

    def _supervise(self) -> None:
        autoscaling = boto3.client("autoscaling")
        last_error = ""
        while not self._stop.is_set():
            try:
                current = set(in_service(autoscaling, self.group))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
                what = f"reading group {self.group}: {session.describe(err)}"
                if what != last_error:  # once per kind of failure, not four times a second
                    self.report(what)
                    last_error = what
                if session.is_backend_gone(err):
                    self._halt(err)
                    return
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
                    self.down.pop(instance, None)
            self._stop.wait(0.25)

    def _start_worker(self, instance: str) -> None:
        left = threading.Event()
        self.workers[instance] = left
        thread = threading.Thread(
            target=self._run, args=(instance, left), daemon=True, name=f"labkit-consumer-{instance}"
        )
        thread.start()
        self._threads.append(thread)

    def _run(self, instance: str, left: threading.Event) -> None:
        def keep_going() -> bool:
            return not left.is_set() and not self._stop.is_set()

        in_a_row = 0
        while keep_going():
            started = time.monotonic()
            try:
                self.consumer(self.queue_url, self.handle, keep_going)
                return
            except Exception as err:  # a learner's consumer may fail: say so, then start it again or stop
                self.report(f"{instance}: {session.describe(err)}")
                if session.is_backend_gone(err):
                    self._halt(err)
                    return
            in_a_row = 1 if time.monotonic() - started > 30 else in_a_row + 1
            if in_a_row > self.max_restarts:
                with self._lock:
                    self.down[instance] = f"{in_a_row} failures in a row"
                return
            self.restarts += 1
            left.wait(self.restart_after_s * 2 ** (in_a_row - 1))  # 1, 2, 4 s: time for a backend to come back
