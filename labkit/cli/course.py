"""``labkit student | progress | cleanup``: the course's own commands."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from labkit import backends
from labkit.backends.aws import TAG_KEY
from labkit.errors import LabkitError

PROGRESS_HELP = """\
How it works: outside a notebook there are no notebook variables, so for each exercise labkit
looks on the backend for what the exercise makes, by the names the lessons use (e.g.
labkit-04-<suffix>-steps.fifo) or by the labkit:lesson tag (tags=lab.tag_dict), and runs the
lesson's own check on it. The status says what is on the backend now:

  pass         the check passes on what is on the backend now
  not yet      found, but the check gives a hint (shown)
  not started  nothing found: not started, OR CLEANED UP (each lesson ends with a Clean up
               cell that deletes what it created; a stopped or reset embedded backend has
               forgotten everything too)
  unavailable  it cannot be checked here: the backend is down or lacks the service, or the
               result lives only in the notebook's kernel (lesson 07's tuned rule, lesson 11's
               reader user): there its check cell is the record

"first passed" says when the exercise's check first passed, here or in the notebook: every
passing check appends a line to $LABKIT_HOME/progress.jsonl, so clean-up does not erase it.
Only a check that passed writes there.

In a notebook: `from labkit.course import progress; progress.show()`.
Exit code 1 only if the backend cannot be reached."""


def cmd_cleanup(args: argparse.Namespace) -> int:
    import boto3

    import labkit
    from labkit import ops

    if args.lesson is not None and not re.fullmatch(r"\d\d-[a-z0-9-]+", args.lesson):
        raise ValueError(f"--lesson {args.lesson!r} is not a lesson name: use its tag value, e.g. 03-lambda")
    name = backends.get(args.backend).name
    if args.region:
        os.environ["LABKIT_REGION"] = args.region
    # connect() refuses real AWS without the opt-in, before anything is listed.
    lab = labkit.connect(backend=name, allow_real_aws=args.allow_real_aws, show=False)
    where = "a real AWS account" if not lab.is_emulator else f"the {lab.backend} backend"
    session = boto3.session.Session(region_name=lab.region)
    what = f"everything tagged {TAG_KEY}={args.lesson or '*'} on {where}, region {lab.region}"
    # On real AWS nothing is deleted before the list of what would be has been shown and confirmed.
    confirm = not lab.is_emulator and not args.dry_run
    print(f"{'listing (dry run)' if args.dry_run or confirm else 'deleting'} {what}")
    report = ops.clean_up(args.lesson, dry_run=args.dry_run or confirm, session=session, name_rule=lab.is_emulator)
    print(report)
    if confirm:
        if not report.would_delete:
            return 1 if report.failed or report.not_listed else 0
        if not args.yes and not _confirmed(len(report.would_delete)):
            print("nothing deleted: run again with --yes to delete what is listed above")
            return 1
        print(f"deleting {what}")
        listed = {(entry.kind, entry.name) for entry in report.would_delete}  # only what was shown and confirmed
        report = ops.clean_up(args.lesson, session=session, name_rule=False, only=listed)
        print(report)
    # On an emulator a service it lacks cannot be listed; on AWS that means something may be left.
    return 1 if report.failed or report.left or (report.not_listed and not lab.is_emulator) else 0


def _confirmed(count: int) -> bool:
    """Ask at a terminal; anything but "yes" (or no terminal at all) is a no."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"delete these {count} resources from your AWS account? type yes: ").strip() == "yes"
    except EOFError:
        return False


def cmd_progress(args: argparse.Namespace) -> int:
    from labkit.course import progress

    found = progress.report(args.lesson, backend=args.backend, allow_real_aws=args.allow_real_aws)
    width = None if args.lesson else max(shutil.get_terminal_size((120, 24)).columns, 100)
    print(found.table(width=width))
    return 0 if found.reachable else 1


def cmd_student(args: argparse.Namespace) -> int:
    from labkit.course.student import write_student_versions

    source, out = Path(args.source), Path(args.out)
    if not any(source.glob("[0-9][0-9]-*.ipynb")):
        raise LabkitError(f"no lessons in {source}/: run this from the course folder, or pass --from <folder>")
    done = write_student_versions(source, out, force=args.force)
    print(f"student versions in {out}/: {len(done.written)} written", end="")
    print(f", {len(done.kept)} kept as they were (your work; --force overwrites them)" if done.kept else "")
    return 0
