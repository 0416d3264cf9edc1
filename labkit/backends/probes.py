"""Ask the current backend whether it can do something a whole lesson depends on.

A lesson declares what it cannot do without in its notebook metadata
(``"labkit": {"requires": ["lambda"]}``); the test suite probes each capability
once per run and skips a lesson whose requirement this backend lacks, with the
reason the probe found. Nothing here is a list of what a backend supports.

The same registry serves finer checks that the parity tests skip on (``tests/parity/conftest.py``):
each probe tries one behaviour in a scratch resource it removes again, and :func:`missing` runs it
at most once per endpoint, so a run pays for each probe once.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import boto3
import botocore.exceptions
from botocore.config import Config

from labkit.aws.errors import error_code
from labkit.aws.s3 import empty_bucket
from labkit.errors import LabkitError

_HANDLER = "def handler(event, context):\n    return {'sum': sum(event['numbers'])}\n"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def lambda_runs() -> str | None:
    """None if a Python handler runs here; otherwise why not, in one line."""
    from labkit.aws.lambdas import wait_active, zip_source

    name = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    iam, awslambda = boto3.client("iam"), boto3.client("lambda")
    try:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"]["Arn"]
        awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="probe.handler",
            Code={"ZipFile": zip_source(_HANDLER, "probe.py")},
        )
        wait_active(name, timeout=60, quiet=True)
        response = awslambda.invoke(FunctionName=name, Payload=json.dumps({"numbers": [1, 2, 3]}))
        if json.loads(response["Payload"].read() or b"null") != {"sum": 6}:
            return "Lambda accepted a function but did not run its code"
        return None
    except (LabkitError, botocore.exceptions.ClientError) as err:
        return f"Lambda cannot run handlers here: {err}"
    finally:
        for call, kwargs in (
            (awslambda.delete_function, {"FunctionName": name}),
            (iam.delete_role, {"RoleName": name}),
        ):
            with contextlib.suppress(botocore.exceptions.ClientError):
                call(**kwargs)


def dynamodb_serves() -> str | None:
    """None if DynamoDB creates a table here; otherwise why not (LocalStack needs a Java download for it)."""
    from botocore.config import Config

    name = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
    except botocore.exceptions.ClientError as err:
        hint = (
            " (LocalStack runs DynamoDB Local, a Java program it downloads on first use; it could not here)"
            if os.environ.get("LABKIT_BACKEND") == "localstack"
            else ""
        )
        return f"DynamoDB cannot create tables here: CreateTable answered {error_code(err)}{hint}"
    except botocore.exceptions.BotoCoreError as err:
        return f"DynamoDB cannot create tables here: {str(err)[:160]}"
    with contextlib.suppress(botocore.exceptions.ClientError):
        dynamodb.delete_table(TableName=name)
    return None


def cloudfront_serves() -> str | None:
    """None if CloudFront answers here (LocalStack's community edition does not have it)."""
    try:
        boto3.client("cloudfront").list_distributions()
    except botocore.exceptions.ClientError as err:
        return f"CloudFront is not served here: {error_code(err)}"
    return None


def rds_serves_postgres() -> str | None:
    """None if an RDS postgres instance made here accepts TCP connections at its endpoint (lesson 09 runs SQL on it)."""
    import secrets
    import socket

    rds = boto3.client("rds", config=Config(retries={"max_attempts": 1}))
    name = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    try:
        rds.describe_db_instances(MaxRecords=20)
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="probe",
            MasterUserPassword=secrets.token_urlsafe(16),
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as err:
        hint = (
            " (LocalStack's community edition has no RDS: it is a Pro feature, and its engines run in Docker)"
            if os.environ.get("LABKIT_BACKEND") == "localstack"
            else ""
        )
        said = error_code(err) if isinstance(err, botocore.exceptions.ClientError) else str(err)
        return f"RDS cannot make a PostgreSQL instance here: {said}{hint}"
    try:
        deadline = time.monotonic() + 120
        while (db := rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])[
            "DBInstanceStatus"
        ] != "available":
            if time.monotonic() > deadline:
                return f"an RDS instance made here was still {db['DBInstanceStatus']} after 120 s"
            time.sleep(2)
        endpoint = db.get("Endpoint") or {}
        try:
            socket.create_connection((endpoint["Address"], int(endpoint["Port"])), timeout=5).close()
        except (OSError, KeyError, ValueError):
            where = f"{endpoint.get('Address')}:{endpoint.get('Port')}"
            return f"RDS here keeps instance records only: nothing accepts connections at {where}"
        return None
    finally:
        with contextlib.suppress(botocore.exceptions.ClientError):
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)


def _scratch_bucket(s3) -> str:
    name = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    region = s3.meta.region_name
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **where)
    return name


def _drop_bucket(s3, name: str) -> None:
    with contextlib.suppress(botocore.exceptions.ClientError):
        empty_bucket(s3, name)
        s3.delete_bucket(Bucket=name)


def _http_status(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def s3_checks_presigned_urls() -> str | None:
    """None if S3 refuses an edited and an expired presigned URL, as AWS does (403)."""
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
    bucket = _scratch_bucket(s3)
    try:
        for key in ("a.txt", "b.txt"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=1)
        edited = _http_status(url.replace("a.txt", "b.txt"))
        time.sleep(2.1)
        expired = _http_status(url)
        if (edited, expired) != (403, 403):
            return (
                f"S3 does not check presigned URLs here: an edited link answered HTTP {edited}, "
                f"an expired one HTTP {expired} (AWS answers 403 to both)"
            )
        return None
    finally:
        _drop_bucket(s3, bucket)


def s3_copies_a_version_onto_its_key() -> str | None:
    """None if copy_object restores an older version onto its own key (AWS's documented way to restore one)."""
    s3 = boto3.client("s3")
    bucket = _scratch_bucket(s3)
    try:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
        s3.put_object(Bucket=bucket, Key="k", Body=b"new")
        try:
            s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": first})
        except botocore.exceptions.ClientError as err:
            return (
                f"S3 refuses to copy an older version onto its own key here ({error_code(err)}); "
                "with MetadataDirective='REPLACE' the copy works"
            )
        return None
    finally:
        _drop_bucket(s3, bucket)


def s3_restore_takes_time() -> str | None:
    """None if a GLACIER restore is first reported in progress, as on AWS, rather than done at once."""
    s3 = boto3.client("s3")
    bucket = _scratch_bucket(s3)
    try:
        s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
        s3.restore_object(
            Bucket=bucket, Key="cold", RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Standard"}}
        )
        restore = s3.head_object(Bucket=bucket, Key="cold").get("Restore", "")
        if 'ongoing-request="true"' not in restore:
            return f"S3 finishes a GLACIER restore at once here, with no restore in progress (Restore: {restore!r})"
        return None
    finally:
        _drop_bucket(s3, bucket)


def route53_refuses_duplicate_records() -> str | None:
    """None if CREATE is refused for a record that an UPSERT made, as on AWS."""
    route53 = boto3.client("route53")
    name = f"labkit-probe-{uuid.uuid4().hex[:8]}.example.com"
    zone = route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    record = {"Name": f"www.{name}.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "example.com"}]}
    try:
        route53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        )
        try:
            route53.change_resource_record_sets(
                HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]}
            )
        except botocore.exceptions.ClientError:
            return None
        return "Route 53 accepts a CREATE for a record that an UPSERT already made here (AWS refuses it)"
    finally:
        with contextlib.suppress(botocore.exceptions.ClientError):
            for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
                if r["Type"] not in ("NS", "SOA"):
                    route53.change_resource_record_sets(
                        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": r}]}
                    )
            route53.delete_hosted_zone(Id=zone)


def logs_filter_by_pattern() -> str | None:
    """None if filter_log_events returns only the events its filter pattern matches."""
    logs = boto3.client("logs")
    group = f"/labkit/probe/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "ERROR one"}, {"timestamp": now + 1, "message": "INFO two"}],
        )
        found = [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]]
        if "INFO two" in found:
            return "CloudWatch Logs ignores filter patterns here: filter_log_events returns every event"
        return None
    finally:
        with contextlib.suppress(botocore.exceptions.ClientError):
            logs.delete_log_group(logGroupName=group)


def autoscaling_answers() -> str | None:
    """None if Auto Scaling answers here (lesson 07 scales a real group); otherwise why not."""
    try:
        boto3.client("autoscaling").describe_auto_scaling_groups(MaxRecords=1)
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as err:
        return f"Auto Scaling is not available here: {err}"


def beanstalk_answers() -> str | None:
    """None if Elastic Beanstalk answers here (lesson 01 deploys an app); otherwise why not."""
    try:
        boto3.client("elasticbeanstalk").describe_applications()
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as err:
        return f"Elastic Beanstalk is not available here: {err}"


def instances_run() -> str | None:
    """None if an EC2 instance's user data runs here (its console output shows what it printed)."""
    ec2 = boto3.client("ec2")
    marker = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(
        ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=f"#!/bin/sh\necho {marker}\n"
    )["Instances"][0]["InstanceId"]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if marker in ec2.get_console_output(InstanceId=instance_id).get("Output", ""):
                return None
            time.sleep(0.2)
        return "EC2 instances are records here: their user data does not run"
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


PROBES: dict[str, Callable[[], str | None]] = {
    "autoscaling": autoscaling_answers,
    "beanstalk": beanstalk_answers,
    "instances-run": instances_run,
    "cloudfront": cloudfront_serves,
    "dynamodb": dynamodb_serves,
    "lambda": lambda_runs,
    "logs-filter-patterns": logs_filter_by_pattern,
    "rds-postgres": rds_serves_postgres,
    "route53-duplicate-records": route53_refuses_duplicate_records,
    "s3-presigned-checks": s3_checks_presigned_urls,
    "s3-restore-in-progress": s3_restore_takes_time,
    "s3-version-self-copy": s3_copies_a_version_onto_its_key,
}

_results: dict[tuple[str, str], str | None] = {}


def missing(name: str) -> str | None:
    """Why the current backend lacks capability ``name`` (a key of PROBES), or None; each probed once per endpoint."""
    key = (name, os.environ.get("AWS_ENDPOINT_URL", ""))
    if key not in _results:
        try:
            _results[key] = PROBES[name]()
        except botocore.exceptions.ClientError as err:  # the probe's own setup was refused
            _results[key] = f"the {name} probe could not run here: {error_code(err)}"
    return _results[key]


def lesson_requirements(notebook) -> list[str]:
    """What a lesson declares it cannot run without: its notebook metadata ``"labkit": {"requires": [...]}``."""
    from pathlib import Path

    return json.loads(Path(notebook).read_text()).get("metadata", {}).get("labkit", {}).get("requires", [])
