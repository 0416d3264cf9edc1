"""The order pipeline's consumer: a Lambda handler for batches from the orders FIFO queue.

Each SQS record's body is one order event as the mail-tracking service sent it:
``{"order_id": ..., "customer": ..., "seq": 1, "status": "created", "amount": 12.5}``.
``store.store`` applies it to DynamoDB once (a conditional write); a receipt goes to S3.

Partial batch responses: a record that cannot be processed is listed in ``batchItemFailures``.
The queue is FIFO, so every later record of the same message group (customer) is listed too, unprocessed:
they come back after it, in order. Records of other groups are processed (AWS Powertools' FIFO batch
processor with ``skip_group_on_error``), so one customer's poison message does not retry everyone's.
"""

import json
import os

import boto3
from store import store

dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")


def parse(body):
    """The order event in a record's body; ValueError for anything that is not one."""
    event = json.loads(body)  # json.JSONDecodeError is a ValueError
    if not isinstance(event, dict) or not all(k in event for k in ("order_id", "customer", "seq", "status")):
        raise ValueError("not an order event")
    if not isinstance(event["seq"], int) or not isinstance(event.get("amount", 0), int | float):
        raise ValueError("seq must be an integer and amount a number")
    return event


def handler(event, context):
    failed, failed_groups = [], set()
    for record in event["Records"]:
        group = record.get("attributes", {}).get("MessageGroupId")
        if group in failed_groups:  # an earlier message of this group failed: keep the group's order
            failed.append({"itemIdentifier": record["messageId"]})
            continue
        try:
            order = parse(record["body"])
            if store(dynamodb, os.environ["TABLE"], order):
                key = f"receipts/{order['customer']}/{order['order_id']}-{order['seq']}.json"
                s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(order))
        except ValueError as err:
            print(json.dumps({"poison": record["messageId"], "group": group, "error": str(err)[:80]}))
            failed.append({"itemIdentifier": record["messageId"]})
            failed_groups.add(group)
    return {"batchItemFailures": failed}
