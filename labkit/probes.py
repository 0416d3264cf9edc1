"""Ask the current backend whether it can do something a whole lesson depends on.

A lesson declares what it cannot do without in its notebook metadata
(``"labkit": {"requires": ["lambda"]}``); the test suite probes each capability
once per run and skips a lesson whose requirement this backend lacks, with the
reason the probe found. Nothing here is a list of what a backend supports.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import boto3
import botocore.exceptions

from labkit.errors import LabkitError

_HANDLER = "def handler(event, context):\n    return {'sum': sum(event['numbers'])}\n"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def lambda_runs() -> str | None:
    """None if a Python handler runs here; otherwise why not, in one line."""
    from labkit.lambdas import wait_active, zip_source

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
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        return f"DynamoDB cannot create tables here: {str(err)[:160]}"
    with contextlib.suppress(botocore.exceptions.ClientError):
        dynamodb.delete_table(TableName=name)
    return None


def cloudfront_serves() -> str | None:
    """None if CloudFront answers here (LocalStack's community edition does not have it)."""
    try:
        boto3.client("cloudfront").list_distributions()
    except botocore.exceptions.ClientError as err:
        return f"CloudFront is not served here: {err.response.get('Error', {}).get('Code', 'error')}"
    return None


PROBES = {"cloudfront": cloudfront_serves, "dynamodb": dynamodb_serves, "lambda": lambda_runs}
