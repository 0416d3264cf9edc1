"""Which exercises pass on the current backend: ``labkit progress`` and ``labkit.course.progress.show()``.

Every exercise is registered next to its check (``labkit.course.exercises``) with a finder that looks
on the backend for what the exercise made (``labkit.course.scan``). The real check then runs on what
was found; its :class:`~labkit.course.checks.Result` gives the row's status and detail. Nothing is read
from a file or a flag a learner could set: progress is the backend's state, now.

Statuses (:class:`~labkit.course.checks.Status`):

- ``pass``: the check passes on something found (several candidates: any one passing counts);
- ``not yet``: found, and the check gives a hint (the first candidate's hint is shown);
- ``not started``: nothing found. Every lesson ends with a Clean up cell that deletes what it
  created, so a lesson that was finished and cleaned up reads "not started" too;
- ``unavailable``: it cannot be checked here: the backend is down or lacks the service, or the
  exercise's result lives only in the notebook's kernel (its check cell is the only record).

Beside the status now, each row says when the exercise first passed (``labkit.course.records``: every
passing check appends a record, in the notebook or here), so a lesson finished and cleaned up still
shows its passes. A record is only ever written by a check that passed.

:func:`run_all` never raises for a backend problem. It reads the credentials in ``os.environ``
when it is called (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), so a caller can check one
learner's account after another by changing them (on MiniStack a 12-digit key id is an account).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import boto3
import botocore.exceptions

from labkit import backends
from labkit.aws.errors import error_code
from labkit.backends.classroom_join import ENV_LEARNER
from labkit.course import records
from labkit.course.checks import CheckFailed, Status
from labkit.course.exercises import Exercise, all_exercises
from labkit.course.scan import Candidate, Scan
from labkit.errors import LabkitError

PASS, NOT_YET, NOT_STARTED, UNAVAILABLE = Status.PASS, Status.NOT_YET, Status.NOT_STARTED, Status.UNAVAILABLE


STATUSES = (PASS, NOT_YET, NOT_STARTED, UNAVAILABLE)


NOTEBOOK_ONLY = "checked in the notebook only"


REPORTED_MARK = "(reported by the learner's kernel)"  # ends ``recorded`` for a pass only a learner's report names


@dataclass(frozen=True)
class ExerciseResult:
    lesson: str
    number: int
    title: str
    status: Status
    detail: str  # one line
    recorded: str = ""  # when it first passed, from the records ("2026-12-02 06:40 on embedded"), or ""

    @property
    def key(self) -> str:
        return f"{self.lesson}.{self.number}"

    @property
    def passed(self) -> bool:
        return self.status == PASS


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _why(err: Exception) -> str:
    code = error_code(err, "")
    return f"the backend said {code}" if code else f"{type(err).__name__}: {err}"


def _call_check(exercise: Exercise, candidate: Candidate) -> tuple[Status, str]:
    """Run the real check on what was found; (status, its line). What it prints is captured, not shown."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            result = exercise.check(*candidate.args, **candidate.kwargs)
    except CheckFailed as err:  # LABKIT_CHECKS_MUST_PASS=1 (the test suite) turns a hint into this
        return NOT_YET, _one_line(str(err))
    except Exception as err:  # checks never raise; in case one does, it is still only this row
        return NOT_YET, _one_line(_why(err))
    return result.status, _one_line(result.message)


def _run_one(exercise: Exercise, scan: Scan) -> ExerciseResult:
    def result(status: Status, detail: str) -> ExerciseResult:
        return ExerciseResult(exercise.lesson.number, exercise.number, exercise.title, status, detail)

    if exercise.find is None:
        return result(UNAVAILABLE, f"{NOTEBOOK_ONLY}: {exercise.notebook_only}")
    try:
        attempts = exercise.find(scan)
    except Exception as err:  # a service this backend lacks, access denied, the backend went away...
        return result(UNAVAILABLE, f"could not look for the {exercise.looks_for}: {_one_line(_why(err))}")
    if not attempts:
        return result(NOT_STARTED, f"or cleaned up: no {exercise.looks_for}")
    hints = []
    for attempt in attempts:
        if attempt.detail:
            hints.append(attempt.detail)
            continue
        status, line = _call_check(exercise, attempt)
        if status in (PASS, UNAVAILABLE):
            return result(status, line)
        hints.append(line if attempt.label in line else f"{attempt.label}: {line}")
    more = f" (and {len(attempts) - 1} other attempt(s) found, none passing)" if len(attempts) > 1 else ""
    return result(NOT_YET, hints[0] + more)


@dataclass
class Progress:
    """What :func:`report` found: the backend it asked (or why it could not), and one result per exercise."""

    backend: str  # "labkit progress · backend embedded · region us-east-1", or the one line saying it is down
    results: list[ExerciseResult]
    reachable: bool = True

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        recorded = sum(bool(r.recorded) for r in self.results)
        return (
            f"{counts[PASS]} of {len(self.results)} pass · {counts[NOT_YET]} not yet · "
            f"{counts[NOT_STARTED]} not started (or cleaned up) · {counts[UNAVAILABLE]} unavailable · "
            f"{recorded} recorded as passed"
        )

    def table(self, width: int | None = None) -> str:
        """The results as a compact table with a total; ``width`` cuts long details to fit."""
        if not self.reachable:
            return self.backend
        marks = {PASS: "✓", NOT_YET: "✗", NOT_STARTED: "·", UNAVAILABLE: "–"}
        title_width = max((len(r.title) for r in self.results), default=8)
        lines = [self.backend, f"{'':<5} {'exercise':<{title_width}}  {'now':<13}  {'first passed':<16}  detail"]
        for r in self.results:
            first = r.recorded.split(" on ")[0] if r.recorded else "—"
            row = f"{r.key:<5} {r.title:<{title_width}}  {marks[r.status]} {r.status:<11}  {first:<16}  "
            detail = r.detail
            if width and len(row) + len(detail) > width:
                detail = detail[: max(width - len(row) - 1, 10)] + "…"
            lines.append(row + detail)
        lines.append(f"total: {self.summary()}")
        if any(line.endswith("…") for line in lines):
            lines.append("(details cut to fit: --lesson NN, or labkit.course.progress.show(), shows them whole)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _connect(backend: str | None, allow_real_aws: bool) -> tuple[str | None, str]:
    """Point boto3 at the backend the lessons use; (None, header) or (why it is unreachable, "")."""
    import labkit

    caller_credentials = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if os.environ.get(k)}
    try:
        chosen = backends.get(backend)
        down = chosen.not_running()  # never start an empty backend just to look at it
        if down:
            return down, ""
        lab = labkit.connect(backend=chosen.name, allow_real_aws=allow_real_aws, show=False)
    except (LabkitError, ValueError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        return f"cannot reach the backend: {_one_line(str(err))}", ""
    # connect() puts the emulators' dummy keys in the environment. A caller's 12-digit key id is an
    # account on the emulator (a classroom learner's): keep it. Any other key of the caller's (real
    # AWS keys, say) is never sent to an emulator.
    if lab.is_emulator and re.fullmatch(r"\d{12}", caller_credentials.get("AWS_ACCESS_KEY_ID", "")):
        os.environ.update(caller_credentials)
    boto3.DEFAULT_SESSION = None
    header = f"labkit progress · backend {lab.backend} · region {lab.region}"
    if lab.account:
        header += f" · account {lab.account}"
    return None, header


def report(lessons: Iterable[str | int] | str | int | None = None, *, backend: str | None = None,
           allow_real_aws: bool = False) -> Progress:  # fmt: skip
    """Check every exercise (or those of ``lessons``) on the backend; never raises for a backend problem."""
    exercises = all_exercises(lessons)
    down, header = _connect(backend, allow_real_aws)
    if down:
        results = [ExerciseResult(e.lesson.number, e.number, e.title, UNAVAILABLE, down) for e in exercises]
        return Progress(down, results, reachable=False)
    scan = Scan()
    live = [_run_one(e, scan) for e in exercises]  # a pass here is recorded by the check itself
    return Progress(header, _with_records(live))


def _with_records(results: list[ExerciseResult]) -> list[ExerciseResult]:
    """Each result with when its exercise first passed for this learner (records.py), if it did."""
    learner = os.environ.get(ENV_LEARNER, "").strip()
    first = records.first_passes(records.read(learner))
    out = []
    for r in results:
        seen = first.get((learner, r.key))
        if seen is None:
            out.append(r)
            continue
        where = seen.backend + (f" account {seen.account}" if seen.account else "")
        by = f" {REPORTED_MARK}" if seen.reported else ""
        out.append(dataclasses.replace(r, recorded=f"{seen.when} on {where}{by}"))
    return out


def run_all(lessons: Iterable[str | int] | str | int | None = None, *, backend: str | None = None,
            allow_real_aws: bool = False) -> list[ExerciseResult]:  # fmt: skip
    """One :class:`ExerciseResult` per exercise of ``lessons`` (default: all), from the backend's state now.

    ``backend`` as for ``labkit.connect`` (default: ``LABKIT_BACKEND``, else embedded). The credentials
    in ``os.environ`` at call time are used. It never raises for a backend problem (down, a service
    missing, access denied): those become ``unavailable`` rows that say why. A lesson number that
    does not exist is a ``ValueError``.
    """
    return report(lessons, backend=backend, allow_real_aws=allow_real_aws).results


def show(lessons: Iterable[str | int] | str | int | None = None) -> None:
    """Print the progress table: ``progress.show()`` in a notebook cell, ``labkit progress`` in a shell."""
    print(report(lessons).table())
