"""Lesson 08's runs of an SQS → Lambda mapping, and the reconciliation of every message sent with what the
handler recorded and what reached the DLQ.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import boto3

from labkit.aws.lambdas import delete_mapping, log_records
from labkit.aws.waits import wait_until
from labkit.widgets.timeline import Timeline, invocations_from_records


def run_batches(
    function_name: str,
    queue_url: str,
    *,
    messages: int = 30,
    batch_size: int = 5,
    max_concurrency: int = 2,
    batching_window: int = 0,
    timeout: float = 120.0,
    quiet: bool = False,
) -> Timeline:
    """One SQS → Lambda experiment, measured from what the handler recorded.

    Sends ``messages`` messages to the (idle) queue, maps the queue to the function with the given
    ``BatchSize``, ``MaximumBatchingWindowInSeconds`` and ``ScalingConfig.MaximumConcurrency``,
    waits until the handler has logged every message, then deletes the mapping. The function must
    be the lesson's ``batch_recorder`` handler (it prints one ``BATCH {json}`` line per invocation).
    """
    sqs, awslambda = boto3.client("sqs"), boto3.client("lambda")
    run = f"r{uuid.uuid4().hex[:6]}"
    since_ms = int(time.time() * 1000) - 5_000
    bodies = [f"{run}-{i:03d}" for i in range(messages)]
    for i in range(0, messages, 10):
        entries = [{"Id": str(j), "MessageBody": body} for j, body in enumerate(bodies[i : i + 10])]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function_name,
        BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=batching_window,
        ScalingConfig={"MaximumConcurrency": max_concurrency},
    )
    try:

        def all_seen():
            rows = invocations_from_records(log_records(function_name, "BATCH", since_ms=since_ms), run)
            seen = {body for row in rows for body in row.messages}
            return rows if seen >= set(bodies) else None

        if quiet:
            deadline = time.monotonic() + timeout
            rows = None
            while rows is None:
                rows = all_seen()
                if rows is None:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the handler did not log all {messages} messages in {timeout:.0f} s")
                    time.sleep(0.25)
        else:
            rows = wait_until(all_seen, timeout=timeout, interval=0.25, desc=f"{messages} messages, batch {batch_size}")
    finally:
        delete_mapping(mapping["UUID"], client=awslambda)
    return Timeline(rows, batch_size=batch_size, max_concurrency=max_concurrency, sent=messages)


@dataclass
class BatchAccounting:
    """What became of every message sent: processed (how often), back in the queue, or in the DLQ."""

    rows: list[dict]  # one per message: body, attempts, successes, outcome

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row["outcome"]] = out.get(row["outcome"], 0) + 1
        return out

    @property
    def all_accounted(self) -> bool:
        """Every message was processed exactly once, or is in the DLQ (and not both)."""
        return all(row["outcome"] in ("processed once", "in the DLQ") for row in self.rows)

    @property
    def handled_twice_or_more(self) -> list[str]:
        return [row["body"] for row in self.rows if row["attempts"] > 1]

    def summary(self) -> str:
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.counts.items()))
        mark = "✓ every message accounted for" if self.all_accounted else "✗ NOT every message accounted for"
        return f"{mark}: {len(self.rows)} sent → {parts}; {len(self.handled_twice_or_more)} handled more than once"

    def table(self) -> str:
        lines = [f"{'message':<16} {'handled':>7}  outcome"]
        lines += [f"{row['body']:<16} {row['attempts']:>6}×  {row['outcome']}" for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def account(sent: list[str], records: list[dict], dlq: list[str], *, report_failures: bool) -> BatchAccounting:
    """Reconcile what was sent with what the handler recorded and what sits in the DLQ.

    A message succeeded in an invocation if it was not marked failed and, without
    ReportBatchItemFailures (``report_failures=False``), nothing else in its batch failed either:
    then Lambda counts the whole batch as failed and returns every message to the queue.
    """
    attempts = {body: 0 for body in sent}
    successes = {body: 0 for body in sent}
    for rec in records:
        messages = [m for m in rec.get("messages", []) if m.get("body") in attempts]
        batch_failed = any(m.get("failed") for m in rec.get("messages", []))
        for m in messages:
            attempts[m["body"]] += 1
            if not m.get("failed") and (report_failures or not batch_failed):
                successes[m["body"]] += 1
    in_dlq = set(dlq)
    rows = []
    for body in sent:
        if body in in_dlq and successes[body]:
            outcome = "processed and in the DLQ"
        elif body in in_dlq:
            outcome = "in the DLQ"
        elif successes[body] == 1:
            outcome = "processed once"
        elif successes[body] > 1:
            outcome = f"processed {successes[body]} times"
        else:
            outcome = "not yet processed"
        rows.append({"body": body, "attempts": attempts[body], "successes": successes[body], "outcome": outcome})
    return BatchAccounting(rows)
