"""CloudWatch helpers the queue lessons share: waiting for an alarm.

AWS publishes the AWS/SQS metrics itself once a minute; on the embedded backend labkit's backend
publishes them (``labkit.backends.embedded.fillers``), so no lesson publishes them itself.
"""

from __future__ import annotations

from labkit.aws.waits import wait_for_status


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
