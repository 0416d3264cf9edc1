"""Lesson 08's consumer: records every batch SQS hands it, so the notebook can draw what happened.

It prints one line per invocation, ``BATCH {json}``: when it started and ended, the queue, and each
message's body, id, receive count and message group. Messages whose body contains "poison" fail.
With ON_FAILURE=report (the default) it returns them as batchItemFailures; with ON_FAILURE=raise
it raises, failing the whole batch.
"""

import json
import os
import time


def handler(event, context):
    start = time.time()
    records = event.get("Records", [])
    failed = [r for r in records if "poison" in r["body"]]
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
                "failed": r in failed,
            }
            for r in records
        ],
    }
    print("BATCH " + json.dumps(line))
    if failed and os.environ.get("ON_FAILURE", "report") == "raise":
        raise RuntimeError(f"{len(failed)} of {len(records)} messages failed")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}
