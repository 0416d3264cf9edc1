"""Passes that outlive clean-up: every exercise check that passed, when, on which backend, for whom.

Every lesson ends with a cell that deletes what it made, as it should; progress read only from the
backend's state (``labkit.course.progress``) then says "not started". So a registered check
(``labkit.course.exercises.ExerciseCheck``) appends one line here each time it **passes**, and only then:
the line is written after the real check returned ``pass``, by the same call, never by a flag or an
argument (``record`` takes a result and refuses any other status). ``labkit progress`` shows what the
backend holds now beside what was recorded.

The file is ``$LABKIT_HOME/progress.jsonl`` (JSON lines, append-only; one bad line is skipped, not fatal):
a learner's own on their machine; on the instructor's machine, the room's, written by
``labkit classroom progress`` as it checks each learner (a line names the learner). In a room a learner's
kernel also reports each pass to the room's server, signed with the learner's key; ``labkit classroom
progress`` adds those as ``reported`` records: the learner's word, which the room's own check can confirm.
No full account id and no key is written: the backend's name, the region, in a room the learner's roster
name, and on real AWS the account masked to its last four digits (as ``connect()`` shows it), so passes
in two accounts stay apart.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit import config, session
from labkit.backends import classroom_join
from labkit.backends.classroom_join import ENV_LEARNER
from labkit.course.checks import Result, Status

FILE = "progress.jsonl"


@dataclass(frozen=True)
class Record:
    exercise: str  # "04.2"
    title: str
    passed_at: float  # seconds since the epoch
    backend: str  # embedded, localstack or aws
    region: str
    learner: str = ""  # the roster name in a room; "" on a learner's own machine
    account: str = ""  # real AWS: the account, masked to its last four digits (as connect() shows it); else ""
    reported: bool = False  # in a room: told by the learner's kernel (signed with their key), not seen by the room

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.passed_at))


def path() -> Path:
    return config.home() / FILE


def _backend() -> str:
    try:
        return config.resolve_backend()
    except ValueError:  # an unknown LABKIT_BACKEND: connect() refuses it before any check can pass
        return os.environ.get("LABKIT_BACKEND", "?")


def record(key: str, title: str, result: Result) -> Record | None:
    """Append a record of ``result`` if it is a pass (else nothing). Never raises for a disk problem."""
    if result.status != Status.PASS:
        return None
    learner = os.environ.get(ENV_LEARNER, "").strip()
    entry = Record(key, title, time.time(), _backend(), config.region(), learner, session.account())
    try:
        _append([entry])
    except OSError:  # a full or read-only disk must not turn a passing check into a traceback
        return None
    classroom_join.report_pass(key, title, entry.passed_at)  # in a room, the instructor's gradebook hears of it
    return entry


def add(found: Iterable[Record]) -> int:
    """Append records made elsewhere (a room's reported passes) that are not here yet; how many were new."""
    have = {(r.learner, r.exercise, r.passed_at) for r in read()}
    new = [r for r in found if (r.learner, r.exercise, r.passed_at) not in have]
    if new:
        _append(new)
    return len(new)


def _append(entries: list[Record]) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(asdict(entry)) + "\n" for entry in entries)


def read(learner: str | None = None) -> list[Record]:
    """Every record (or ``learner``'s: "" is this machine's own), oldest first."""
    try:
        lines = path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            found.append(Record(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return [r for r in found if learner is None or r.learner == learner]


def first_passes(records: Iterable[Record]) -> dict[tuple[str, str], Record]:
    """The first pass of each (learner, exercise): when it was first done (the earliest, whatever the file order)."""
    first: dict[tuple[str, str], Record] = {}
    for r in records:
        key = (r.learner, r.exercise)
        if key not in first or r.passed_at < first[key].passed_at:
            first[key] = r
    return first
