"""Checks for 12-capstone: they read the deployed stack and invoke its consumer."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.scan import SUFFIX, Candidate, Scan

STACK = re.compile(rf"labkit-12-orders-({SUFFIX})")
ABOVE_ZERO = {("GreaterThanThreshold", 0.0), ("GreaterThanOrEqualToThreshold", 1.0)}


def _stack(cloudformation, stack_name: str) -> tuple[dict[str, Any] | None, str]:
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0], ""
    except botocore.exceptions.ClientError as err:
        return None, f"there is no stack {stack_name} ({error_code(err)}): run the deploy cells first"


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@exercise(1, "an alarm on the dead-letter queue", looks_for="stack labkit-12-orders-<suffix>")
def dlq_alarm(stack_name: str) -> Result:
    """The stack has an AWS::CloudWatch::Alarm on its DLQ's ApproximateNumberOfMessagesVisible, above 0."""
    cloudformation, cloudwatch = boto3.client("cloudformation"), boto3.client("cloudwatch")
    stack, problem = _stack(cloudformation, stack_name)
    if stack is None:
        return hint(problem)
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        return hint(
            f"the stack is {stack['StackStatus']}: wait for the change set to finish "
            f"({stack.get('StackStatusReason') or 'see describe_stack_events'})"
        )
    resources = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    alarms = [r for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm"]
    if not alarms:
        return hint(
            "the stack has no AWS::CloudWatch::Alarm resource: add one to template['Resources'] and run the "
            "cell again (it makes and executes a change set)"
        )
    dlq_name = _outputs(stack).get("DeadLetterQueueName", "")
    found = cloudwatch.describe_alarms(AlarmNames=[a["PhysicalResourceId"] for a in alarms])["MetricAlarms"]
    if not found:
        return hint(f"the stack lists the alarm {alarms[0]['PhysicalResourceId']}, but CloudWatch has no such alarm")
    reasons = []
    for alarm in found:
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        what = (alarm.get("Namespace"), alarm.get("MetricName"))
        if what != ("AWS/SQS", "ApproximateNumberOfMessagesVisible"):
            reasons.append(f"it watches {what[0]} {what[1]}: watch AWS/SQS ApproximateNumberOfMessagesVisible")
        elif dims.get("QueueName") != dlq_name:
            reasons.append(
                f"its QueueName dimension is {dims.get('QueueName')!r}, not the DLQ's name: use "
                '{"Fn::GetAtt": ["OrdersDeadLetterQueue", "QueueName"]}'
            )
        elif (alarm.get("ComparisonOperator"), float(alarm.get("Threshold", -1))) not in ABOVE_ZERO:
            reasons.append(
                f"it fires when the depth is {alarm.get('ComparisonOperator')} {alarm.get('Threshold')}: "
                "one message in the DLQ should fire it (GreaterThanThreshold 0)"
            )
        else:
            return passed(
                f"{alarm['AlarmName']} (in the stack) fires when {dlq_name} holds a message; state now "
                f"{alarm['StateValue']}"
            )
    return hint(f"the stack's alarm is not on the DLQ's depth: {reasons[0]}")


def _record(body: str, region: str, account: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "labkit-check",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "labkit-check"},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{account}:labkit-12-check.fifo",
        "awsRegion": region,
    }


@exercise(2, "a consumer that stores each event once", looks_for="stack labkit-12-orders-<suffix>")
def stores_once(stack_name: str) -> Result:
    """The deployed consumer applies an order's events once each, and never an older one over a newer one."""
    cloudformation, awslambda, dynamodb = (boto3.client(s) for s in ("cloudformation", "lambda", "dynamodb"))
    stack, problem = _stack(cloudformation, stack_name)
    if stack is None:
        return hint(problem)
    out = _outputs(stack)
    function, table = out.get("FunctionName"), out.get("TableName")
    if not function or not table:
        return hint(f"the stack {stack_name} has no FunctionName/TableName outputs: deploy the lesson's template")
    arn = awslambda.get_function_configuration(FunctionName=function)["FunctionArn"]
    region, account = arn.split(":")[3], arn.split(":")[4]
    order_id = f"labkit-check-{uuid.uuid4().hex[:8]}"
    events = [(1, "created"), (2, "paid"), (2, "paid"), (1, "created")]  # a duplicate, then a stale event
    bodies = [
        json.dumps({"order_id": order_id, "customer": "labkit-check", "seq": seq, "status": status})
        for seq, status in events
    ]
    try:
        for body in bodies:  # one record per invocation: each event arrives in its own batch, as a retry would
            event = {"Records": [_record(body, region, account)]}
            answer = awslambda.invoke(FunctionName=function, Payload=json.dumps(event))
            payload = answer["Payload"].read().decode(errors="replace")
            if answer.get("FunctionError"):
                return hint(f"{function} raised for a good order event: {payload[:160]}")
            if json.loads(payload or "{}").get("batchItemFailures"):
                return hint(f"{function} reported a good order event as failed: {payload[:160]}")
        item = dynamodb.get_item(TableName=table, Key={"order_id": {"S": order_id}}, ConsistentRead=True).get("Item")
    finally:
        dynamodb.delete_item(TableName=table, Key={"order_id": {"S": order_id}})
    if not item:
        return hint(f"after four events for {order_id} the table has no item for it: does store() write the order?")
    history = [int(s["N"]) for s in item.get("history", {}).get("L", [])]
    status = item.get("order_status", {}).get("S")
    if history.count(2) > 1 or history.count(1) > 1:
        return hint(
            f"the same event was applied twice (history {history}): a duplicate must change nothing. "
            "Make the update conditional: ConditionExpression='attribute_not_exists(seq) OR seq < :seq'"
        )
    if history != [1, 2] or status != "paid":
        return hint(
            f"events seq 1, 2, 2, 1 left history {history} and status {status!r}: an older event must not "
            "overwrite a newer one (ConditionExpression='attribute_not_exists(seq) OR seq < :seq')"
        )
    return passed(f"{function}: events 1, 2, 2 (again), 1 (late) → history [1, 2], status paid: each applied once")


# ----------------------------------------------------------------------------- finders, for labkit progress


def _stacks(scan: Scan) -> list[Candidate]:
    def listing() -> list[dict[str, Any]]:
        try:
            return scan.pages("cloudformation", "describe_stacks", "Stacks")
        except botocore.exceptions.ClientError:
            return []

    stacks = scan.once(("cloudformation",), listing)
    mine = [s for s in stacks if STACK.fullmatch(s["StackName"]) and "DELETE" not in s["StackStatus"]]
    mine.sort(key=lambda s: s.get("CreationTime", 0), reverse=True)
    return [Candidate(s["StackName"], (s["StackName"],)) for s in mine]


@dlq_alarm.finder
def _dlq_alarm(scan: Scan) -> list[Candidate]:
    return _stacks(scan)


@stores_once.finder
def _stores_once(scan: Scan) -> list[Candidate]:
    return _stacks(scan)
