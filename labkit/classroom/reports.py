"""Passes a learner's kernel reports to the room: what the room's server appends, and what the instructor reads.

A learner's check that passes (``labkit.course.records``) also POSTs ``{"exercise", "title", "passed_at"}`` to
the room's ``/_labkit/classroom/progress``, signed with the learner's key (``classroom_join.report_pass``); the
server (``server.py``, which loads this file by path: standard library only) checks the signature and appends
the report under the signing learner's account to ``reported.jsonl`` beside the roster (mode 0600, at most
5 MB). ``labkit classroom progress`` reads it (``read``) and adds each report to the room's records as
``reported``: the learner's word that their own check passed, which the room's own check can confirm.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

FILE = "reported.jsonl"
MAX_BYTES = 5_000_000  # a learner cannot fill the instructor's disk with reports
_EXERCISE = re.compile(r"\d\d\.\d{1,2}")


def append(folder: str, account: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Append one report (the request's JSON body) under ``account``; the HTTP status and answer."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    fields = [doc.get(k) for k in ("exercise", "title", "passed_at")] if isinstance(doc, dict) else [None] * 3
    exercise, title, passed_at = fields
    if not (
        isinstance(exercise, str)
        and _EXERCISE.fullmatch(exercise)
        and isinstance(title, str)
        and len(title) <= 200
        and isinstance(passed_at, (int, float))
        and not isinstance(passed_at, bool)
    ):
        return 400, {"error": 'send {"exercise": "04.2", "title": "...", "passed_at": <epoch seconds>}'}
    path = os.path.join(folder, FILE)
    if os.path.exists(path) and os.path.getsize(path) > MAX_BYTES:
        return 507, {"error": "the room's record of reported passes is full: tell the instructor"}
    line = {"exercise": exercise, "title": title, "passed_at": float(passed_at), "account": account}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps({**line, "reported_at": time.time()}) + "\n").encode())
    finally:
        os.close(fd)
    return 200, {"recorded": exercise}


def read(folder: str) -> list[dict[str, Any]]:
    """Every report in ``folder``'s file, oldest first (a broken line is skipped)."""
    try:
        with open(os.path.join(folder, FILE), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and {"exercise", "title", "passed_at", "account"} <= set(doc):
            found.append(doc)
    return found
