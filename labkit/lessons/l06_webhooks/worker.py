"""The worker behind the receiver: takes events off the SQS queue and runs the lesson's handler.

The receiver answers fast because it only queues; this worker does the real work, as
slowly as it likes. It is an ordinary SQS consumer loop in a background thread: receive up
to 10 → ``handler(event, webhook_id)`` for each → delete only what succeeded. A handler
that raises leaves the message in the queue; it comes back after the visibility timeout,
and the queue's redrive policy moves it to a dead-letter queue after ``maxReceiveCount``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.aws.sqs import depth


@dataclass(frozen=True)
class Handled:
    """One receive of one event by the worker."""

    seconds: float
    webhook_id: str
    event_type: str
    receive_count: int
    ok: bool
    note: str


class QueueWorker:
    """``QueueWorker(sqs, queue_url, handler).start()``; ``wait_until_empty()``; ``stop()``."""

    def __init__(self, sqs, queue_url: str, handler: Callable[[dict, str], str | None], *, wait_s: int = 1) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.wait_s = wait_s
        self.handled: list[Handled] = []
        self.errors: list[str] = []
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> QueueWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-webhook-worker")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.wait_s + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                got = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self.wait_s,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception as err:  # queue deleted under us, backend gone: stop quietly, say why
                self.errors.append(f"{type(err).__name__}: {err}")
                return
            for message in got:
                self._handle(message)

    def _handle(self, message: dict) -> None:
        attrs = message.get("MessageAttributes", {})
        webhook_id = attrs.get("webhook-id", {}).get("StringValue", message["MessageId"])
        count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        event_type = "?"
        try:
            event = json.loads(message["Body"])
            event_type = event.get("type", "?")
            note, ok = self.handler(event, webhook_id) or "done", True
        except Exception as err:
            note, ok = f"{type(err).__name__}: {err}", False
        if ok:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.handled.append(Handled(round(time.monotonic() - self._t0, 3), webhook_id, event_type, count, ok, note))

    def wait_until_empty(self, timeout: float = 20.0) -> bool:
        """Wait until the queue has nothing visible or in flight (True), or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if depth(self.sqs, self.queue_url) == (0, 0):
                return True
            time.sleep(0.25)
        return False

    def __enter__(self) -> QueueWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
