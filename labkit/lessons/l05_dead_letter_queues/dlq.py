"""Lesson 05's dead-letter helper: waiting for a DLQ redrive task (``start_message_move_task``) to finish.

The calls the lesson teaches (creating the queues, the redrive policy, the redrive itself, and the
receive → send → delete move where a backend has no move tasks) are in the notebook's cells.
"""

from __future__ import annotations

import time


def wait_for_move_task(sqs, source_arn: str, *, timeout: float = 120.0) -> dict:
    """Poll ``list_message_move_tasks`` until the newest task leaves RUNNING; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        if tasks and tasks[0].get("Status") != "RUNNING":
            return tasks[0]
        if time.monotonic() > deadline:
            return tasks[0] if tasks else {}
        time.sleep(1)
