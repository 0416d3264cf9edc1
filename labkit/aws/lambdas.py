"""Lambda helpers the lessons share: zip a handler, wait until a function or mapping is ready, read its logs.

They wait and read; the lessons make the calls they teach (create_function, invoke, create_event_source_mapping).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.aws.waits import progress_bar, wait_until
from labkit.errors import FunctionNotRunnable, LabkitError


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


def _failed_message(name: str, config: dict) -> str:
    code = config.get("StateReasonCode") or config.get("LastUpdateStatusReasonCode") or "no reason code"
    reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
    line = f"Lambda function {name} is in state Failed ({code}{': ' + reason if reason else ''})."
    if hint := _backend_hint():
        line += " " + hint + "."
    return line


def _backend_hint() -> str:
    """What the current backend says about functions stuck in Failed (LocalStack without Docker), if anything."""
    from labkit import backends

    try:
        return backends.get().lambda_failed_hint
    except LabkitError:  # an unknown LABKIT_BACKEND: connect() says so
        return ""


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
                    + (f". {hint}." if (hint := _backend_hint()) else "")
                )
            if bar is None and elapsed > 2 and not quiet:
                bar = progress_bar(timeout, f"waiting for {name} to become Active")
            if bar is not None:
                bar.n = round(elapsed, 1)
                bar.refresh()
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.close()


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
