"""Parity: the IAM and CloudWatch behaviours lesson 11 relies on."""

from __future__ import annotations

import datetime as dt
import json
import time

import boto3
import botocore.exceptions
import pytest

from labkit.lessons.l11_iam_and_cloudwatch import enforcing as iam_lab


@pytest.fixture
def enforcing(lab):
    """The endpoint the lesson sends IAM to: the enforcing MiniStack on emulators, AWS itself on AWS."""
    server = iam_lab.start_for(lab)
    yield server.url if server else None
    if server:
        server.stop()


def test_read_only_user_reads_but_cannot_write(lab, enforcing, unique):
    iam = boto3.client("iam", endpoint_url=enforcing)
    s3 = boto3.client("s3", endpoint_url=enforcing)
    name, bucket = f"parity-reader-{unique}", f"labkit-parity-iam-{unique}"
    where = {} if lab.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": lab.region}}
    s3.create_bucket(Bucket=bucket, **where)
    iam.create_user(UserName=name)
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        reader = boto3.client(
            "s3",
            endpoint_url=enforcing,
            region_name=lab.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        for _ in range(15):  # a new key may take seconds on AWS
            try:
                reader.list_objects_v2(Bucket=bucket)
                break
            except botocore.exceptions.ClientError:
                time.sleep(2)
        assert reader.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            reader.put_object(Bucket=bucket, Key="x", Body=b"x")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        forged = boto3.client(
            "s3",
            endpoint_url=enforcing,
            region_name=lab.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key="wrong",
        )
        with pytest.raises(botocore.exceptions.ClientError) as bad:
            forged.list_buckets()
        assert bad.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.detach_user_policy(UserName=name, PolicyArn=arn)
        iam.delete_user(UserName=name)
        s3.delete_bucket(Bucket=bucket)


def test_role_with_trust_policy_and_customer_policy(lab, unique):
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    role, policy = f"parity-role-{unique}", f"parity-policy-{unique}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Tags=lab.tags)
    arn = iam.create_policy(PolicyName=policy, PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        got = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        if isinstance(got, str):
            got = json.loads(got)
        assert got["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert [p["PolicyName"] for p in attached] == [policy]
    finally:
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
        iam.delete_policy(PolicyArn=arn)
        iam.delete_role(RoleName=role)


def test_metric_statistics_per_period(unique):
    cw = boto3.client("cloudwatch")
    ns = f"Labkit/Parity-{unique}"
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    values = [float(v) for v in range(1, 11)]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Orders",
                "Dimensions": [{"Name": "Storefront", "Value": "web"}],
                "Timestamp": now - dt.timedelta(minutes=10 - i),
                "Value": v,
            }
            for i, v in enumerate(values)
        ],
    )
    args = dict(
        Namespace=ns,
        MetricName="Orders",
        Dimensions=[{"Name": "Storefront", "Value": "web"}],
        StartTime=now - dt.timedelta(minutes=15),
        EndTime=now + dt.timedelta(minutes=1),
    )
    minute = cw.get_metric_statistics(Period=60, Statistics=["Sum"], **args)["Datapoints"]
    assert sorted(d["Sum"] for d in minute) == values
    five = cw.get_metric_statistics(Period=300, Statistics=["Sum", "SampleCount", "Maximum"], **args)["Datapoints"]
    assert sum(d["Sum"] for d in five) == sum(values)
    assert sum(d["SampleCount"] for d in five) == len(values)
    assert max(d["Maximum"] for d in five) == 10.0


def test_dashboard_round_trip(unique):
    cw = boto3.client("cloudwatch")
    name = f"labkit-parity-{unique}"
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "hi"}}]}
    cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    try:
        assert json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"]) == body
    finally:
        cw.delete_dashboards(DashboardNames=[name])


def test_alarm_fires_when_breaching_data_arrives(unique):
    cw = boto3.client("cloudwatch")
    ns, name = f"Labkit/Parity-{unique}", f"labkit-parity-alarm-{unique}"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=ns,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    try:
        # A new alarm starts in INSUFFICIENT_DATA; with notBreaching, its first evaluation may already have made it OK.
        assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] in {"INSUFFICIENT_DATA", "OK"}
        cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Errors", "Value": 9.0}])
        deadline = time.monotonic() + 10
        while (state := cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]) != "ALARM":
            if time.monotonic() > deadline:
                pytest.skip(f"this backend does not evaluate alarms within 10 s (state {state})")
            time.sleep(0.5)
        assert state == "ALARM"
    finally:
        cw.delete_alarms(AlarmNames=[name])


def test_log_events_are_filtered_by_pattern(unique, requires):
    requires("logs-filter-patterns")
    logs = boto3.client("logs")
    group = f"/labkit/parity/{unique}"
    logs.create_log_group(logGroupName=group)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        t0 = int(time.time() * 1000)
        lines = ["INFO ok", "ERROR payment failed: card declined", "WARN slow", "ERROR payment failed: timeout"]
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(lines)],
        )
        found = [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]]
        assert found == [lines[1], lines[3]]
        phrase = logs.filter_log_events(logGroupName=group, filterPattern='"card declined"')["events"]
        assert [e["message"] for e in phrase] == [lines[1]]
    finally:
        logs.delete_log_group(logGroupName=group)
