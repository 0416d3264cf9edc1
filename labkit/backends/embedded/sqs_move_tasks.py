"""SQS dead-letter queue redrive for MiniStack: ``StartMessageMoveTask``, ``ListMessageMoveTasks``, ``Cancel...``.

Loaded by path into MiniStack's process by ``ministack_fixes.py`` (the servers' Python; standard library and
MiniStack only). MiniStack 1.5.33 answers these three actions ``InvalidAction``; lessons 05 and 12 redrive with them.
What AWS documents, and what is done here
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html):

- the source must be a queue that another queue's ``RedrivePolicy`` names as its dead-letter queue, and a
  destination, when given, must exist and be of the same type (``InvalidParameterValue`` otherwise, the code
  LocalStack answers too, whose SQS is checked against AWS's own answers);
- without ``DestinationArn`` each message goes back to the queue it came from (MiniStack records it as
  ``DeadLetterQueueSourceArn`` when it moves a message to the DLQ);
- the task is asynchronous: it moves, oldest first, the messages that were in the DLQ when it started
  (``ApproximateNumberOfMessagesToMove``), at ``MaxNumberOfMessagesPerSecond`` (1-500; without it, 500 a second
  here, where AWS picks a rate from the backlog), and ends ``COMPLETED``; ``CancelMessageMoveTask`` stops it
  (``CANCELLED``) and keeps what was moved;
- one running task per source queue; ``ListMessageMoveTasks`` gives the newest first (``MaxResults`` 1-10,
  default 1), with the ``TaskHandle`` only while it runs;
- a redriven message is a new message: new ``MessageId``, new enqueue time, receive count 0; in a FIFO queue it
  keeps its message group, and its deduplication id is its old ``MessageId`` (as AWS does when it moves a FIFO
  message to a DLQ), so it is never dropped as a duplicate of its own first send.

The moves run on MiniStack's event loop (as its own actions do) and take MiniStack's queue lock, which its Lambda
pollers take in their threads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from types import ModuleType
from typing import Any

DEFAULT_RATE = 500  # messages a second when the caller gives no rate (AWS's highest settable rate)
STEP_S = 0.1
KEEP = 10  # tasks remembered per source queue (ListMessageMoveTasks returns at most 10)


def install(sqs: ModuleType) -> None:
    """Add the three actions to MiniStack's SQS action table."""
    tasks: dict[str, list[dict[str, Any]]] = {}  # source ARN → its tasks, oldest first
    err = sqs._Err

    def queue(arn: str, what: str) -> dict[str, Any]:
        found: dict[str, Any] | None = sqs._queue_by_arn(arn) if isinstance(arn, str) and arn else None
        if found is None:
            raise err("ResourceNotFoundException", f"The {what} queue {arn!r} does not exist.")
        return found

    def is_dead_letter_queue(arn: str) -> bool:
        for q in sqs._queues.values():
            try:
                policy = json.loads(q["attributes"].get("RedrivePolicy") or "{}")
            except ValueError:
                continue
            if isinstance(policy, dict) and policy.get("deadLetterTargetArn") == arn:
                return True
        return False

    def move(message: dict[str, Any], destination: dict[str, Any]) -> None:
        now = time.time()
        moved = {key: message.get(key) for key in ("body", "md5_body", "md5_attrs", "message_attributes", "group_id")}
        moved.update(
            id=sqs.new_uuid(),
            receipt_handle=None,
            sent_at=now,
            visible_at=now,
            receive_count=0,
            first_receive_at=None,
            sys=sqs._build_send_sys_attrs(now, {}),
            dedup_id=None,
            dedup_cache_key=None,
            seq=None,
        )
        if destination.get("is_fifo"):
            destination["fifo_seq"] += 1
            moved.update(dedup_id=message["id"], seq=str(destination["fifo_seq"]).zfill(20))
        destination["messages"].append(moved)

    async def run(task: dict[str, Any], source: dict[str, Any], destination: dict[str, Any] | None) -> None:
        rate = task["MaxNumberOfMessagesPerSecond"] or DEFAULT_RATE
        owed = 0.0
        while task["Status"] == "RUNNING" and task["_ids"]:
            owed += rate * STEP_S
            with sqs._queues_lock:
                now = time.time()
                while owed >= 1 and task["_ids"]:
                    wanted = task["_ids"].pop(0)
                    found = next((m for m in source["messages"] if m["id"] == wanted), None)
                    if found is None or found["visible_at"] > now:  # deleted, or received meanwhile: not moved
                        continue
                    target = destination or sqs._queue_by_arn(found.get("sys", {}).get("DeadLetterQueueSourceArn", ""))
                    if target is None:
                        task.update(Status="FAILED", FailureReason="a message's source queue no longer exists")
                        break
                    move(found, target)
                    source["messages"].remove(found)
                    task["ApproximateNumberOfMessagesMoved"] += 1
                    owed -= 1
                sqs.esm_wake.set()
            await asyncio.sleep(STEP_S)
        if task["Status"] == "RUNNING":
            task["Status"] = "COMPLETED"
        elif task["Status"] == "CANCELLING":
            task["Status"] = "CANCELLED"

    def start(data: dict[str, Any], _url: str) -> dict[str, Any]:
        source_arn, destination_arn = data.get("SourceArn", ""), data.get("DestinationArn")
        source = queue(source_arn, "source")
        if not is_dead_letter_queue(source_arn):
            raise err("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        destination = queue(destination_arn, "destination") if destination_arn else None
        if destination is not None and bool(destination.get("is_fifo")) != bool(source.get("is_fifo")):
            raise err("InvalidParameterValue", "The destination queue must be of the same type as the source queue.")
        rate = data.get("MaxNumberOfMessagesPerSecond")
        if rate is not None and not (isinstance(rate, int) and 1 <= rate <= 500):
            raise err("InvalidParameterValue", "MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        history = tasks.setdefault(source_arn, [])
        if any(t["Status"] in ("RUNNING", "CANCELLING") for t in history):
            raise err("InvalidParameterValue", "There is already a task running. Only one active task is allowed.")
        now = time.time()
        ids = [m["id"] for m in source["messages"] if m.get("visible_at", now) <= now]
        handle = base64.b64encode(json.dumps({"taskId": sqs.new_uuid(), "sourceArn": source_arn}).encode()).decode()
        task = {
            "TaskHandle": handle,
            "Status": "RUNNING",
            "SourceArn": source_arn,
            "DestinationArn": destination_arn,
            "MaxNumberOfMessagesPerSecond": rate,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": len(ids),
            "StartedTimestamp": int(now * 1000),
            "_ids": ids,
        }
        history.append(task)
        del history[:-KEEP]
        asyncio.get_running_loop().create_task(run(task, source, destination))
        return {"TaskHandle": handle}

    def listed(data: dict[str, Any], _url: str) -> dict[str, Any]:
        source_arn = data.get("SourceArn", "")
        queue(source_arn, "source")
        most = data.get("MaxResults", 1)
        if not (isinstance(most, int) and 1 <= most <= 10):
            raise err("InvalidParameterValue", "MaxResults must be between 1 and 10.")
        results = []
        for task in reversed(tasks.get(source_arn, [])[-most:]):
            shown = {k: v for k, v in task.items() if not k.startswith("_") and v is not None}
            if task["Status"] != "RUNNING":
                shown.pop("TaskHandle")
            results.append(shown)
        return {"Results": results}

    def cancel(data: dict[str, Any], _url: str) -> dict[str, Any]:
        handle = data.get("TaskHandle", "")
        try:
            source_arn = json.loads(base64.b64decode(handle, validate=True))["sourceArn"]
        except (ValueError, KeyError, TypeError):
            raise err("InvalidParameterValue", "Value for parameter TaskHandle is invalid.") from None
        task = next((t for t in tasks.get(source_arn, []) if t["TaskHandle"] == handle), None)
        if task is None:
            raise err("ResourceNotFoundException", "No message movement task has this handle.")
        if task["Status"] != "RUNNING":
            raise err("UnsupportedOperation", f"Only a RUNNING task can be cancelled; this one is {task['Status']}.")
        task["Status"] = "CANCELLING"
        return {"ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]}

    sqs._HANDLERS.update(
        {"StartMessageMoveTask": start, "ListMessageMoveTasks": listed, "CancelMessageMoveTask": cancel}
    )
