"""Checks for 11-iam-and-cloudwatch."""

from __future__ import annotations

import time

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, newest, suffix_of

PROBE_KEY = "labkit-check/probe.txt"


@exercise(1, "least privilege", notebook_only="it writes as the reader, whose secret key only your kernel has")
def writes_only_to(reader_s3, bucket: str, other_bucket: str, wait_s: float = 0.0) -> Result:
    """As the reader: a write into ``bucket`` works, a write into ``other_bucket`` is AccessDenied.

    ``wait_s``: how long to keep retrying a refused write (IAM changes take seconds to apply on AWS).
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            reader_s3.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"written by the check")
            break
        except botocore.exceptions.ClientError as err:
            if error_code(err) == "AccessDenied" and time.monotonic() < deadline:
                time.sleep(2)
                continue
            return hint(
                f"the reader could not write into {bucket} ({error_code(err)}): allow s3:PutObject on "
                f"arn:aws:s3:::{bucket}/* in a policy on the reader (put_user_policy)"
            )
    try:
        reader_s3.put_object(Bucket=other_bucket, Key=PROBE_KEY, Body=b"written by the check")
    except botocore.exceptions.ClientError as err:
        code = error_code(err)
        if code != "AccessDenied":
            return hint(f"a write into {other_bucket} failed with {code}, not AccessDenied: does that bucket exist?")
        return passed(f"the reader writes into {bucket} and is refused (AccessDenied) everywhere else")
    return hint(
        f"the reader could also write into {other_bucket}: the policy is too broad "
        f"(use Resource arn:aws:s3:::{bucket}/*, not *), or this server does not enforce IAM"
    )


@exercise(2, "an alarm of your own", looks_for="alarm labkit-11-latency-<suffix> or on CheckoutLatency")
def latency_alarm_fires(alarm_name: str, namespace: str, wait_s: float = 10.0) -> Result:
    """The alarm watches CheckoutLatency Maximum > 800 over 60 s in ``namespace``, and is in ALARM."""
    cloudwatch = boto3.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    if not found:
        return hint(f"no alarm named {alarm_name!r}: create it with put_metric_alarm")
    alarm = found[0]
    wanted = {
        "Namespace": namespace,
        "MetricName": "CheckoutLatency",
        "Statistic": "Maximum",
        "Period": 60,
        "Threshold": 800.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    for field, value in wanted.items():
        if alarm.get(field) != value:
            return hint(f"{field} is {alarm.get(field)!r}; expected {value!r}")
    deadline = time.monotonic() + wait_s
    while alarm["StateValue"] != "ALARM" and time.monotonic() < deadline:
        time.sleep(1)
        alarm = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]
    if alarm["StateValue"] != "ALARM":
        return hint(
            f"the alarm is {alarm['StateValue']}: publish a CheckoutLatency data point above 800 to "
            f"{namespace} with put_metric_data"
        )
    return passed(f"{alarm_name} watches Maximum CheckoutLatency > 800 ms and is in ALARM")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("11")


@latency_alarm_fires.finder
def _latency_alarm(scan: Scan) -> list[Candidate]:
    alarms = newest(scan.pages("cloudwatch", "describe_alarms", "MetricAlarms"), "AlarmConfigurationUpdatedTimestamp")
    attempts = []
    for alarm in alarms:
        name = alarm["AlarmName"]
        suffix = suffix_of("labkit-11-latency-{s}", name)
        if suffix:
            attempts.append(Candidate(name, (name, f"Labkit/Shop-{suffix}"), {"wait_s": 0}))
        elif alarm.get("MetricName") == "CheckoutLatency" and alarm.get("Namespace", "").startswith("Labkit/Shop-"):
            attempts.append(Candidate(name, (name, alarm["Namespace"]), {"wait_s": 0}))
    return attempts
