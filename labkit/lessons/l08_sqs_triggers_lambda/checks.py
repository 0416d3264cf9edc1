"""Checks for 08-sqs-triggers-lambda: they invoke the learner's worker and read its mapping, queues and logs."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.aws.lambdas import log_records
from labkit.aws.sqs import peek_all, queue_depth
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import SUFFIX, Candidate, Scan
from labkit.lessons.l08_sqs_triggers_lambda.batches import account_orders
from labkit.lessons.l08_sqs_triggers_lambda.worker import ORDERS

CHECK_QUEUE = "labkit-08-check"  # the queue name in the test events the first check sends (no such queue exists)


def _record(body: str, region: str, account: str) -> dict:
    """One SQS record as an event source mapping hands it to a function."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "labkit-check",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{account}:{CHECK_QUEUE}",
        "awsRegion": region,
    }


def _invoke(awslambda, function_name: str, records: list[dict]) -> tuple[str | None, object]:
    """("type: message" of the error the function raised, or None; its decoded response) for these records."""
    answer = awslambda.invoke(FunctionName=function_name, Payload=json.dumps({"Records": records}))
    raw = answer["Payload"].read()
    try:
        payload = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw.decode(errors="replace")
    if answer.get("FunctionError"):
        if isinstance(payload, dict):
            kind, message = payload.get("errorType") or answer["FunctionError"], payload.get("errorMessage") or ""
            return f"{kind}: {message}"[:160], payload
        return str(answer["FunctionError"]), payload
    return None, payload


def _failure_ids(payload: object) -> list | None:
    """The itemIdentifiers a response lists, [] for a response AWS counts as full success, None if malformed."""
    if payload is None or payload == {}:
        return []  # an empty or null response: the whole batch succeeded
    if not isinstance(payload, dict) or "batchItemFailures" not in payload:
        return None
    failures = payload["batchItemFailures"]
    if failures is None:
        return []
    if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
        return None
    return [f.get("itemIdentifier") for f in failures]


@exercise(1, "a handler that reports its failures", looks_for="function labkit-08-worker-<suffix>")
def reports_failures(function_name: str) -> Result:
    """Given a batch with two bad orders the worker lists exactly their messageIds; none for a good batch."""
    awslambda = boto3.client("lambda")
    try:
        arn = awslambda.get_function_configuration(FunctionName=function_name)["FunctionArn"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return hint(f"there is no function {function_name} yet: run the exercise cell, which creates it")
        return hint(f"could not read {function_name}: {error_code(err)}")
    region, account = arn.split(":")[3], arn.split(":")[4]
    bodies = [
        json.dumps({"order": "check-1", "quantity": 1}),
        "not an order at all",
        json.dumps({"order": "check-3", "quantity": 2}),
        json.dumps({"order": "check-4", "quantity": 0}),
    ]
    records = [_record(body, region, account) for body in bodies]
    bad = {records[1]["messageId"]: 2, records[3]["messageId"]: 4}
    kind, payload = _invoke(awslambda, function_name, records)
    if kind:
        return hint(
            f"given a batch of 4 orders of which #2 and #4 are bad, the handler raised an error ({kind}), which "
            "fails the whole batch. Catch the ValueError for each record and list its messageId in batchItemFailures"
        )
    ids = _failure_ids(payload)
    if ids is None:
        return hint(
            f"the handler returned {str(payload)[:120]}: return "
            '{"batchItemFailures": [{"itemIdentifier": record["messageId"]}, ...]} for the records that failed'
        )
    by_id = {r["messageId"]: n for n, r in enumerate(records, 1)}
    if any(i in bodies for i in ids):
        return hint("itemIdentifier must be the record's messageId, not its body")
    if any(not isinstance(i, str) or i not in by_id for i in ids):
        return hint(
            "an itemIdentifier is not the messageId of a record in the batch (empty, None or another value): "
            "AWS then counts the whole batch as failed. Use record['messageId']"
        )
    if set(ids) != set(bad):
        listed = sorted(by_id[i] for i in ids)
        return hint(
            f"for a batch of 4 orders of which #2 and #4 are bad, batchItemFailures lists "
            f"{'#' + ', #'.join(map(str, listed)) if listed else 'nothing'}: list exactly the records that failed"
        )
    good = [_record(json.dumps({"order": f"check-{n}", "quantity": 1}), region, account) for n in (5, 6)]
    kind, payload = _invoke(awslambda, function_name, good)
    if kind or _failure_ids(payload) != []:
        return hint(
            f"for a batch of good orders the handler answered {kind or str(payload)[:120]}: "
            'return {"batchItemFailures": []} when every record worked'
        )
    return passed(
        f"{function_name} lists only the failed messages in batchItemFailures (#2 and #4 of 4), none for a good batch"
    )


@exercise(2, "only the failures come back", looks_for="queue labkit-08-<suffix>-orders-<n>")
def partial_batch_mapping(queue_url: str, function_name: str) -> Result:
    """The queue's mapping reports batch item failures; good orders were handled, only bad ones reached the DLQ."""
    sqs, awslambda = boto3.client("sqs"), boto3.client("lambda")
    queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])[
            "Attributes"
        ]
    except botocore.exceptions.ClientError as err:
        return hint(f"cannot read the queue {queue_name} ({error_code(err)}): run the exercise cell from its top")
    mappings = awslambda.list_event_source_mappings(EventSourceArn=attributes["QueueArn"]).get(
        "EventSourceMappings", []
    )
    mine = [m for m in mappings if m.get("FunctionArn", "").split(":")[-1] == function_name.split(":")[-1]]
    if not mine:
        return hint(
            f"no event source mapping from {queue_name} to {function_name}: create one with "
            "awslambda.create_event_source_mapping(EventSourceArn=orders_arn, FunctionName=worker, ...)"
        )
    mapping = mine[0]
    types = mapping.get("FunctionResponseTypes") or []
    if "ReportBatchItemFailures" not in types:
        return hint(
            f"the mapping's FunctionResponseTypes is {types}: without ReportBatchItemFailures Lambda ignores the "
            "batchItemFailures your handler returns and deletes the whole batch. "
            'Pass FunctionResponseTypes=["ReportBatchItemFailures"]'
        )
    if mapping.get("State") != "Enabled":
        return hint(f"the mapping is {mapping.get('State')}: wait until its State is Enabled, then send the orders")
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    if not redrive.get("deadLetterTargetArn"):
        return hint(f"{queue_name} has no dead-letter queue: run the exercise cell from its top (fresh_orders_queues)")
    dlq_name = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
    dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    records = [r for r in log_records(function_name, "ORDER") if r.get("queue") == queue_name]
    if not records:
        return hint(
            f"{function_name} has not processed an order from {queue_name} yet: send `orders` to orders_url "
            "(send_message_batch, 10 at a time) and wait until the queue is empty"
        )
    left = queue_depth(queue_url)
    if left:
        return hint(f"{left} messages are still in {queue_name}: wait until it is empty, then run this check again")
    in_dlq = [m["Body"] for m in peek_all(sqs, dlq_url)]
    result = account_orders(ORDERS, records, in_dlq, left=left)
    rows = {row["body"]: row for row in result.rows}
    never = [b for b, row in rows.items() if row["outcome"] == "never seen"]
    if never:
        return hint(
            f"{len(never)} of the {len(ORDERS)} orders never reached the worker and are in neither queue: "
            "send every message of `orders`"
        )
    good_in_dlq = [b for b, row in rows.items() if row["outcome"] == "in the DLQ" and not row["failed"]]
    if good_in_dlq:
        return hint(
            f"{len(good_in_dlq)} good orders are in the DLQ (e.g. {good_in_dlq[0]}): their batch failed as a whole. "
            "Does the handler raise instead of listing the failed records in batchItemFailures? (exercise 1's check)"
        )
    lost = [b for b, row in rows.items() if row["outcome"].startswith("lost")]
    if lost:
        return hint(
            f"the bad order {lost[0]} failed but is in neither queue: it was deleted as if it had worked. "
            "List it in batchItemFailures so it comes back and, after maxReceiveCount receives, reaches the DLQ"
        )
    if not result.all_accounted:
        return hint(result.summary().removeprefix("✗ "))
    bad_tries = sorted({rows[b]["attempts"] for b in rows if rows[b]["failed"]})
    # A good order handed out twice yet handled, not dead-lettered, is timing, not the learner's code: its batch
    # took longer than the visibility timeout (a cold start). A batch that failed as a whole lands in the DLQ.
    slow = result.came_back_unfailed
    return passed(
        f"{queue_name} → {function_name} (BatchSize {mapping.get('BatchSize')}, ReportBatchItemFailures): "
        f"{result.sent} sent = {result.handled} handled + {result.in_dlq} in the DLQ (received "
        f"{'/'.join(map(str, bad_tries))}× each, maxReceiveCount {redrive.get('maxReceiveCount')}) + 0 left, "
        "0 lost; "
        + (
            f"only the failed orders failed, though {len(slow)} good ones were handed out twice: their first batch "
            "took longer than the queue's visibility timeout"
            if slow
            else "only the failed orders came back"
        )
    )


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("08")
ORDERS_QUEUE = re.compile(rf"labkit-08-({SUFFIX})-orders-(\d+)")


@reports_failures.finder
def _reports_failures(scan: Scan) -> list[Candidate]:
    names = [f["FunctionName"] for f in scan.functions()]
    return [Candidate(n, (n,)) for n in names if re.fullmatch(rf"labkit-08-worker-{SUFFIX}", n)]


@partial_batch_mapping.finder
def _partial_batch_mapping(scan: Scan) -> list[Candidate]:
    matches = [m for m in map(ORDERS_QUEUE.fullmatch, scan.queues()) if m]
    return [  # the latest run of the exercise cell first
        Candidate(m.group(0), (scan.queues()[m.group(0)], f"labkit-08-worker-{m.group(1)}"))
        for m in sorted(matches, key=lambda m: -int(m.group(2)))
    ]
