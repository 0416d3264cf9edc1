"""Lesson 08's consumer: records every batch SQS hands it, so the notebook can draw what happened.

It prints one line per invocation, ``BATCH {json}``: when it started and ended, the queue, and each
message's body, id, receive count and message group. A message whose body contains "poison" cannot be
processed: the handler raises, and an exception fails the whole invocation, so the whole batch.
"""

import json
import os
import time


def handler(event, context):
    start = time.time()
    records = event.get("Records", [])
    poison = [r["messageId"] for r in records if "poison" in r["body"]]
    time.sleep(float(os.environ.get("WORK_SECONDS", "0.3")))  # stands in for real work
    line = {
        "request_id": context.aws_request_id,
        "start": start,
        "end": time.time(),
        "queue": records[0]["eventSourceARN"].split(":")[-1] if records else None,
        "messages": [
            {
                "body": r["body"],
                "id": r["messageId"],
                "receive_count": int(r["attributes"].get("ApproximateReceiveCount", "1")),
                "group": r["attributes"].get("MessageGroupId"),
                "failed": r["messageId"] in poison,
            }
            for r in records
        ],
    }
    print("BATCH " + json.dumps(line))
    if poison:
        raise RuntimeError(f"{len(poison)} of {len(records)} messages could not be processed")
    return {}
