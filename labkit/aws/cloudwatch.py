"""CloudWatch helpers the queue lessons share: a queue's depth published as a metric, waiting for an alarm.

AWS publishes the AWS/SQS metrics itself once a minute; the embedded backend does not, so lessons 05 and 07
publish the depth with these where the backend lacks them.
"""

from __future__ import annotations

import threading
import time

import botocore.exceptions

from labkit.aws.sqs import depth
from labkit.aws.waits import wait_for_status


def publish_queue_depth(cloudwatch, sqs, queue_url: str, *, namespace: str, metric_name: str, dimensions=None) -> int:
    """Read ApproximateNumberOfMessagesVisible from SQS and put it as a CloudWatch data point; returns it.

    On AWS, SQS publishes ``AWS/SQS ApproximateNumberOfMessagesVisible`` every minute by itself;
    emulators do not, so labkit does this there (and only there).
    """
    visible, _ = depth(sqs, queue_url)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": metric_name, "Dimensions": dimensions or [], "Value": float(visible), "Unit": "Count"}
        ],
    )
    return visible


class DepthPublisher:
    """A background thread that publishes a queue's depth every ``interval`` seconds (emulators only).

    ``with DepthPublisher(...) as pub:`` starts and stops it; ``pub.published`` lists what it sent.
    """

    def __init__(
        self,
        cloudwatch,
        sqs,
        queue_url: str,
        *,
        namespace: str,
        metric_name: str,
        dimensions=None,
        interval: float = 0.5,
    ):
        self.args = (cloudwatch, sqs, queue_url)
        self.kwargs = {"namespace": namespace, "metric_name": metric_name, "dimensions": dimensions}
        self.interval = interval
        self.published: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                value = publish_queue_depth(*self.args, **self.kwargs)
                self.published.append((round(time.monotonic() - t0, 2), value))
            except botocore.exceptions.ClientError:
                pass  # queue deleted under us: nothing left to publish
            self._stop.wait(self.interval)

    def start(self) -> DepthPublisher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-depth-publisher")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> DepthPublisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_alarm(
    cloudwatch, alarm_name: str, state: str = "ALARM", *, timeout: float = 30.0, progress: bool = True
) -> dict:
    """Poll ``describe_alarms`` until the alarm reaches ``state`` (or ``timeout``); returns the alarm."""

    def describe() -> dict:
        return cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]

    wait_for_status(
        lambda: describe()["StateValue"],
        state,
        f"alarm {alarm_name}",
        timeout_s=timeout,
        every_s=0.5,
        progress=progress,
    )
    return describe()
