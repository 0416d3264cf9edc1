"""The ``labkit`` command: up | down | status | env | reset | doctor | cleanup | student | progress | classroom.

One module per command group: ``backend`` (up, down, status, env, reset, doctor: each asks the
chosen backend object, ``labkit.backends``), ``course`` (student, progress, cleanup) and
``classroom`` (``labkit classroom up | key | reset | status | down | progress``, one backend for a
whole room: labkit/classroom/, docs/instructors.md).

Every problem is reported as one line that says what to do, with exit code 1 (a malformed command
line: exit code 2, also one line). Arguments are checked as they are parsed (``port``, ``region``),
settings before anything starts (``labkit.config``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from labkit.cli import backend, classroom, course, values
from labkit.errors import LabkitError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (usage is one ``--help`` away), as every other labkit error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="labkit", description="The course's AWS backend, student versions, progress, and classrooms.")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: tuple[tuple[str, Command, str], ...] = (
        ("up", backend.cmd_up, "start the backend (embedded) or check it answers"),
        ("down", backend.cmd_down, "stop everything labkit started"),
        ("status", backend.cmd_status, "each service's route and health"),
        ("env", backend.cmd_env, 'shell exports for this backend: eval "$(labkit env)"'),
        ("reset", backend.cmd_reset, "wipe every resource on the embedded backend"),
        ("doctor", backend.cmd_doctor, "check ports, versions, Docker and LocalStack; say how to fix each"),
        ("cleanup", course.cmd_cleanup, "delete every resource tagged labkit:lesson (or list them with --dry-run)"),
        ("student", course.cmd_student, "write the student versions of the lessons (exercises blanked)"),
        ("progress", course.cmd_progress, "which exercises pass on this backend now (runs each lesson's checks)"),
    )
    for name, func, text in commands:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        if name in ("up", "status", "env", "reset", "cleanup", "progress"):
            p.add_argument("--backend", help="embedded, localstack or aws (default: $LABKIT_BACKEND or embedded)")
        if name in ("up", "status", "cleanup", "progress"):
            p.add_argument("--allow-real-aws", action="store_true", help="opt in to a real AWS account")
        if name == "progress":
            p.epilog, p.formatter_class = course.PROGRESS_HELP, argparse.RawDescriptionHelpFormatter
            p.add_argument(
                "--lesson", action="append", help="only this lesson (repeatable): 04, or 04-sqs-standard-vs-fifo"
            )
        if name == "status":
            p.add_argument("--resources", action="store_true", help="also list what is on it, by lesson tag")
        if name == "cleanup":
            p.add_argument("--lesson", help="only this lesson's resources (its tag value, e.g. 03-lambda)")
            p.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
            p.add_argument("--yes", action="store_true", help="on real AWS: delete what the listing shows, no prompt")
            p.add_argument(
                "--region", type=values.region, help="the region to clean (default: $LABKIT_REGION, then the SDK's)"
            )
        if name == "student":
            p.add_argument("--from", dest="source", default="notebooks", help="the solved lessons (default: notebooks)")
            p.add_argument("--out", default="notebooks/student", help="where to write (default: notebooks/student)")
            p.add_argument("--force", action="store_true", help="overwrite student notebooks that already exist")
    classroom.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (LabkitError, ValueError) as err:
        print(f"labkit {args.command}: {err}", file=sys.stderr)
        return 1
