"""Helpers for the Lambda lessons: what is not the lesson itself.

- ``zip_handler(path)`` / ``zip_source(code)``: a deployment package (zip bytes) for ``create_function``;
- ``wait_active(name)``: wait until a function can run, and say in one line why it cannot
  (on LocalStack without Docker, functions end in state ``Failed``);
- ``wait_until(...)``: a polling wait with a progress bar, for effects that arrive later
  (an asynchronous invocation, a log line, a queue draining);
- ``log_records(name, marker)``: the JSON lines a handler printed, read back from CloudWatch Logs;
- ``run_batches(...)``: one SQS → Lambda experiment (send, map, wait, unmap), returned as a
  :class:`labkit.widgets.timeline.Timeline` built from what the handler recorded.

The lessons make the AWS calls they teach themselves; these helpers wrap the waiting and parsing.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.exceptions

from labkit import config
from labkit.aws.errors import error_code
from labkit.errors import FunctionNotRunnable
from labkit.widgets.timeline import Invocation, Timeline

T = TypeVar("T")


def zip_source(code: str, filename: str = "handler.py") -> bytes:
    """A deployment package holding one Python file, ``filename``, at the root of the zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(filename, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16  # readable by the runtime's user on AWS
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, code)
    return buf.getvalue()


def zip_handler(path: str | Path) -> bytes:
    """Zip a handler file (e.g. ``lambdas/hello.py``) so that its module name is the file name.

    The function's ``Handler`` is then ``<file name without .py>.<function name>``, e.g. ``hello.handler``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no handler file at {path}: write it first, or check the path")
    return zip_source(path.read_text(), filename=path.name)


def _client(service: str, client: Any | None) -> Any:
    return client if client is not None else boto3.client(service)


def _progress(total: float, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=round(total, 1), desc=desc, unit="s", bar_format="{desc}: {bar} {n:.1f}/{total:.0f} s")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.25,
    desc: str = "waiting",
) -> T:
    """Call ``probe`` until it returns something truthy, showing a progress bar; return that value.

    Raises ``TimeoutError`` (with ``desc`` in the message) when ``timeout`` seconds pass first.
    """
    start = time.monotonic()
    bar = _progress(timeout, desc)
    try:
        while True:
            value = probe()
            elapsed = time.monotonic() - start
            bar.n = round(min(elapsed, timeout), 1)
            bar.refresh()
            if value:
                return value
            if elapsed >= timeout:
                raise TimeoutError(f"{desc}: nothing after {timeout:.0f} s")
            time.sleep(interval)
    finally:
        bar.close()


_NO_DOCKER_HINT = (
    "LocalStack runs Lambda handlers in Docker containers: start it with docker compose (which mounts "
    "/var/run/docker.sock), or use the embedded backend (LABKIT_BACKEND=embedded), which runs them without Docker"
)


def _failed_message(name: str, config: dict) -> str:
    code = config.get("StateReasonCode") or config.get("LastUpdateStatusReasonCode") or "no reason code"
    reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
    line = f"Lambda function {name} is in state Failed ({code}{': ' + reason if reason else ''})."
    if _on_localstack():
        line += " " + _NO_DOCKER_HINT + "."
    return line


def _on_localstack() -> bool:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    return os.environ.get("LABKIT_BACKEND") == "localstack" or endpoint == config.localstack_url().rstrip("/")


def function_status(name: str, client: Any | None = None) -> tuple[str, str]:
    """(State, LastUpdateStatus) of a function, e.g. ("Active", "Successful")."""
    config = _client("lambda", client).get_function_configuration(FunctionName=name)
    return config.get("State", "?"), config.get("LastUpdateStatus", "?")


def wait_active(name: str, *, timeout: float = 60.0, client: Any | None = None, quiet: bool = False) -> dict:
    """Wait until a new or just-updated function is Active and its last update Successful.

    Returns the function's configuration. Raises :class:`FunctionNotRunnable` with a one-line
    explanation when the function is (or ends up) in state Failed, e.g. LocalStack without Docker.
    """
    awslambda = _client("lambda", client)
    start = time.monotonic()
    bar = None
    try:
        while True:
            config = awslambda.get_function_configuration(FunctionName=name)
            state, update = config.get("State"), config.get("LastUpdateStatus")
            if state == "Failed" or update == "Failed":
                raise FunctionNotRunnable(_failed_message(name, config))
            if state == "Active" and update in (None, "Successful"):
                if not quiet:
                    print(f"{name}: Active after {time.monotonic() - start:.1f} s")
                return config
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                raise FunctionNotRunnable(
                    f"Lambda function {name} is still {state}/{update} after {timeout:.0f} s"
                    + (f". {_NO_DOCKER_HINT}." if _on_localstack() else "")
                )
            if bar is None and elapsed > 2 and not quiet:
                bar = _progress(timeout, f"waiting for {name} to become Active")
            if bar is not None:
                bar.n = round(elapsed, 1)
                bar.refresh()
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.close()


def wait_mapping(uuid_: str, state: str = "Enabled", *, timeout: float = 90.0, client: Any | None = None) -> dict:
    """Wait until an event source mapping reaches ``state`` (AWS takes a few seconds up to a minute)."""
    awslambda = _client("lambda", client)

    def probe():
        mapping = awslambda.get_event_source_mapping(UUID=uuid_)
        return mapping if mapping["State"] == state else None

    found = probe()
    return found or wait_until(probe, timeout=timeout, interval=0.5, desc=f"mapping {uuid_[:8]}… → {state}")


def delete_mapping(uuid_: str, *, timeout: float = 90.0, client: Any | None = None) -> None:
    """Delete an event source mapping and wait until it is gone, so its poller stops taking messages."""
    awslambda = _client("lambda", client)
    awslambda.delete_event_source_mapping(UUID=uuid_)

    def gone():
        try:
            awslambda.get_event_source_mapping(UUID=uuid_)
        except botocore.exceptions.ClientError as err:
            return error_code(err, "") == "ResourceNotFoundException"
        return False

    if not gone():
        wait_until(gone, timeout=timeout, interval=0.5, desc=f"deleting mapping {uuid_[:8]}…")


def log_events(name: str, *, since_ms: int | None = None, client: Any | None = None) -> list[dict]:
    """Every event in ``/aws/lambda/<name>`` (all pages), oldest first; empty if the group does not exist yet."""
    logs = _client("logs", client)
    kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{name}"}
    if since_ms is not None:
        kwargs["startTime"] = since_ms
    events: list[dict] = []
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            events += page.get("events", [])
            token = page.get("nextToken")
            if not token or not page.get("events"):
                break
            kwargs["nextToken"] = token
    except botocore.exceptions.ClientError as err:
        if error_code(err, "") != "ResourceNotFoundException":
            raise
    return sorted(events, key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))


def parse_records(messages: list[str], marker: str) -> list[dict]:
    """The JSON objects in lines of the form ``<marker> {...}`` (other lines are ignored)."""
    found = []
    prefix = marker + " "
    for message in messages:
        for line in message.splitlines():
            if line.startswith(prefix):
                try:
                    found.append(json.loads(line[len(prefix) :]))
                except json.JSONDecodeError:
                    continue
    return found


def log_records(name: str, marker: str, *, since_ms: int | None = None, client: Any | None = None) -> list[dict]:
    """The ``<marker> {json}`` lines function ``name`` printed, parsed, oldest first."""
    return parse_records([e["message"] for e in log_events(name, since_ms=since_ms, client=client)], marker)


def invocations_from_records(records: list[dict], run: str | None = None) -> list[Invocation]:
    """Turn the batch_recorder handler's BATCH records into :class:`Invocation` rows.

    With ``run`` given, only messages whose body starts with ``run`` count (one experiment of several).
    """
    rows = []
    for rec in records:
        messages = [m for m in rec.get("messages", []) if run is None or str(m.get("body", "")).startswith(run)]
        if not messages:
            continue
        rows.append(
            Invocation(
                request_id=rec.get("request_id", ""),
                start=float(rec["start"]),
                end=float(rec["end"]),
                messages=tuple(m["body"] for m in messages),
                failed=tuple(m["body"] for m in messages if m.get("failed")),
                receive_counts=tuple(int(m.get("receive_count", 1)) for m in messages),
            )
        )
    return sorted(rows, key=lambda r: r.start)


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
class Accounting:
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


def account(sent: list[str], records: list[dict], dlq: list[str], *, report_failures: bool) -> Accounting:
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
    return Accounting(rows)


def drain_bodies(queue_url: str, *, client: Any | None = None, timeout: float = 30.0) -> list[str]:
    """Receive and delete every message in a queue (e.g. a DLQ you are inspecting); return their bodies.

    Stops when a receive comes back empty and the queue reports no messages left, or after ``timeout`` seconds.
    """
    sqs = _client("sqs", client)
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            if queue_depth(queue_url, client=sqs) == 0:
                break
            continue
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
    return bodies


def queue_depth(queue_url: str, *, client: Any | None = None) -> int:
    """Messages in a queue, visible or in flight (ApproximateNumberOfMessages + …NotVisible)."""
    attrs = _client("sqs", client).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
