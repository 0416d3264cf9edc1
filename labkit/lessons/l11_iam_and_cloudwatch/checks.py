"""Checks for 11-iam-and-cloudwatch."""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import json
import time
import urllib.parse
from typing import Any

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson

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


@exercise(
    2, "a Deny that beats the Allow", notebook_only="it reads as the reader, whose secret key only your kernel has"
)
def payroll_denied(reader_s3, admin_iam, reader: str, bucket: str, wait_s: float = 0.0) -> Result:
    """The reader keeps ReadOnlyAccess; an inline Deny takes ``payroll/`` out of it (report.txt reads, payroll not)."""
    attached = [p["PolicyArn"] for p in admin_iam.list_attached_user_policies(UserName=reader)["AttachedPolicies"]]
    if READ_ONLY not in attached:
        return hint("keep ReadOnlyAccess attached to the reader: the exercise is a Deny that beats its Allow")
    payroll = f"arn:aws:s3:::{bucket}/payroll/march.csv"
    if not any(_denies(statement, "s3:GetObject", payroll) for statement in _inline_statements(admin_iam, reader)):
        return hint(
            f"none of the reader's inline policies denies s3:GetObject on arn:aws:s3:::{bucket}/payroll/*: "
            "put_user_policy with a statement whose Effect is 'Deny'"
        )
    deadline = time.monotonic() + wait_s
    while True:
        payroll_read = _read(reader_s3, bucket, "payroll/march.csv")
        if payroll_read != "ok" or time.monotonic() >= deadline:
            break
        time.sleep(2)  # on AWS a policy change takes a few seconds to apply everywhere
    report_read = _read(reader_s3, bucket, "report.txt")
    if report_read != "ok":
        return hint(
            f"the reader can no longer read report.txt ({report_read}): deny only arn:aws:s3:::{bucket}/payroll/*"
        )
    if payroll_read == "ok":
        return hint(
            "the reader can still read payroll/march.csv: is the Deny's Resource right? (or this server ignores IAM)"
        )
    if payroll_read != "AccessDenied":
        return hint(f"reading payroll/march.csv failed with {payroll_read}, not AccessDenied: is the object there?")
    return passed("the reader reads report.txt and is refused payroll/march.csv: the Deny beats ReadOnlyAccess")


READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _inline_statements(iam, user: str) -> list[dict]:
    statements = []
    for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
        document = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        found = document.get("Statement", [])
        statements += found if isinstance(found, list) else [found]
    return statements


def _denies(statement: dict, action: str, resource: str) -> bool:
    """The statement is a Deny whose Action and Resource patterns both match."""

    def listed(value) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    return (
        statement.get("Effect") == "Deny"
        and any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in listed(statement.get("Action")))
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in listed(statement.get("Resource")))
    )


def _read(s3, bucket: str, key: str) -> str:
    """ "ok", or the error code of reading the object."""
    try:
        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return "ok"
    except botocore.exceptions.ClientError as err:
        return error_code(err)


@exercise(3, "the busiest five minutes", notebook_only="the response and busiest live in your kernel")
def busiest_five_minutes(response: Any, busiest: Any, namespace: str) -> Result:
    """``response`` is get_metric_data's Sum of OrdersPlaced per 300 s; ``busiest`` its (timestamp, orders) maximum."""
    if not isinstance(response, dict) or "MetricDataResults" not in response:
        return hint("five_minutes should be what cloudwatch.get_metric_data(...) returned")
    series = [r for r in response["MetricDataResults"] if r.get("Values")]
    if not series:
        return hint(
            "the response holds no values: check the Namespace, MetricName (OrdersPlaced), "
            "Dimensions (Storefront=web) and the time range"
        )
    points = sorted(zip(series[0]["Timestamps"], series[0]["Values"], strict=True))
    gaps = {(later - earlier).total_seconds() for (earlier, _), (later, _) in itertools.pairwise(points)}
    if not gaps or gaps != {300.0}:
        apart = ", ".join(f"{g:.0f}" for g in sorted(gaps)) or "?"
        return hint(f"the points are {apart} s apart: ask for Period 300 (five minutes), over the last 35 minutes")
    minutes = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName="OrdersPlaced",
        Dimensions=[{"Name": "Storefront", "Value": "web"}],
        StartTime=points[0][0] - dt.timedelta(minutes=5),
        EndTime=points[-1][0] + dt.timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    for start, value in points:
        end = start + dt.timedelta(minutes=5)
        expected = sum(d["Sum"] for d in minutes if start <= d["Timestamp"] < end)
        if abs(value - expected) > 1e-6:
            return hint(
                f"the five minutes from {start:%H:%M} hold {value:g}, but their one-minute points add up to "
                f"{expected:g}: ask for Stat 'Sum'"
            )
    top = max(points, key=lambda p: p[1])
    if not isinstance(busiest, tuple | list) or len(busiest) != 2 or tuple(busiest) != top:
        return hint(
            f"busiest is {busiest!r}; the largest five-minute sum in your response is {top[1]:g} at {top[0]:%H:%M}"
        )
    return passed(f"the busiest five minutes: {top[1]:g} orders from {top[0]:%H:%M}, from get_metric_data")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("11")
