"""Queue consumers, one per InService instance of an Auto Scaling group.

On AWS each instance would run the consumer itself (from its user data or an
image). On emulators an EC2 instance is only a record, so the consumer that
"runs on" each instance is a worker thread here: the fleet watches the group,
starts a worker for every instance that comes into service (after a simulated
boot time), and lets a worker finish its current batch and stop when its
instance leaves. Each worker long-polls the queue, takes up to 10 messages,
spends ``seconds_per_message`` on each, deletes them, and records them in the
tally, so every message can be accounted for at the end.
"""

from __future__ import annotations

import threading
import time

import boto3
import botocore.exceptions

from labkit.lessons.l07_scaling_with_cloudwatch.groups import ManagedGroup, SelfRunGroup, as_group


class Fleet:
    def __init__(
        self,
        group: str | ManagedGroup | SelfRunGroup,
        queue_url: str,
        tally,
        *,
        seconds_per_message: float = 0.02,
        boot_s: float = 2.0,
        visibility_timeout: int = 30,
    ):
        self.group = as_group(group)
        self.queue_url = queue_url
        self.tally = tally
        self.seconds_per_message = seconds_per_message
        self.boot_s = boot_s
        self.visibility_timeout = visibility_timeout
        self.booting: dict[str, float] = {}  # instance id → when it takes work
        self.workers: dict[str, threading.Event] = {}  # instance id → its stop signal
        self.processed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def per_instance_rate(self) -> float:
        """Messages one worker clears per second, ignoring the time the API calls take."""
        return 1 / self.seconds_per_message

    def start(self) -> Fleet:
        thread = threading.Thread(target=self._supervise, daemon=True, name="labkit-fleet")
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for signal in list(self.workers.values()):
            signal.set()
        for thread in self._threads:
            thread.join(5)

    def counts(self) -> tuple[int, int]:
        """(instances working, instances still booting)."""
        with self._lock:
            return len(self.workers), len(self.booting)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                current = set(self.group.in_service())
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
                    self.workers.pop(instance).set()  # finish the batch in hand, then stop
            self._stop.wait(0.25)

    def _start_worker(self, instance: str) -> None:
        signal = threading.Event()
        self.workers[instance] = signal
        thread = threading.Thread(target=self._work, args=(signal,), daemon=True, name=f"labkit-worker-{instance}")
        thread.start()
        self._threads.append(thread)

    def _work(self, signal: threading.Event) -> None:
        sqs = boto3.client("sqs")
        while not signal.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    VisibilityTimeout=self.visibility_timeout,
                ).get("Messages", [])
                if not messages:
                    continue
                time.sleep(self.seconds_per_message * len(messages))
                result = sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
                # A message whose delete failed comes back after the visibility timeout: not done yet.
                deleted = [messages[int(entry["Id"])] for entry in result.get("Successful", [])]
                for message in deleted:
                    self.tally.done(message)
                with self._lock:
                    self.processed += len(deleted)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                signal.wait(0.5)
