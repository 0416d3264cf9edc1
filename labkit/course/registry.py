"""The one registry of the course's lessons: number, slug, title and time, a row each.

A lesson's slug names everything of it: the notebook ``notebooks/<slug>.ipynb``, the
``labkit:lesson`` tag on what it creates (``labkit.connect(lesson=<slug>)``), and its package
``labkit/lessons/l<NN>_<slug words>/`` (its helpers, widgets and checks). Adding a lesson is its
notebook, its package and one row here; tests/unit/test_layout.py checks the three agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    number: str  # "04"
    slug: str  # "04-sqs-standard-vs-fifo": the notebook's name and the labkit:lesson tag
    title: str  # as the README's course table shows it
    minutes: int  # the time to do it, shown in the notebook's overview and the README

    @property
    def tag(self) -> str:
        """The ``labkit:lesson`` tag value on everything the lesson creates."""
        return self.slug

    @property
    def package(self) -> str:
        """The lesson's package under ``labkit.lessons``, e.g. ``l04_sqs_standard_vs_fifo``."""
        return "l" + self.slug.replace("-", "_")

    @property
    def module(self) -> str:
        return f"labkit.lessons.{self.package}"

    @property
    def notebook(self) -> str:
        return f"{self.slug}.ipynb"


LESSONS: tuple[Lesson, ...] = (
    Lesson("00", "00-start-here", "start here", 20),
    Lesson("01", "01-ec2-and-ebs", "EC2 and EBS", 40),
    Lesson("02", "02-s3-and-glacier", "S3 and Glacier", 40),
    Lesson("03", "03-lambda", "Lambda", 40),
    Lesson("04", "04-sqs-standard-vs-fifo", "SQS standard vs FIFO", 45),
    Lesson("05", "05-dead-letter-queues", "dead-letter queues", 30),
    Lesson("06", "06-webhooks", "webhooks", 30),
    Lesson("07", "07-scaling-with-cloudwatch", "scaling with CloudWatch", 60),
    Lesson("08", "08-sqs-triggers-lambda", "SQS triggers Lambda", 45),
    Lesson("09", "09-databases", "databases", 35),
    Lesson("10", "10-networking", "networking", 35),
    Lesson("11", "11-iam-and-cloudwatch", "IAM and CloudWatch", 35),
    Lesson("12", "12-capstone", "capstone: the order pipeline as code", 60),
)

BY_NUMBER: dict[str, Lesson] = {lesson.number: lesson for lesson in LESSONS}


def lesson(which: str | int) -> Lesson:
    """The lesson that ``4``, ``"04"`` or ``"04-sqs-standard-vs-fifo"`` names; ValueError if none."""
    match = re.fullmatch(r"(\d{1,2})(-[a-z0-9-]+)?", str(which).strip())
    found = BY_NUMBER.get(f"{int(match.group(1)):02d}") if match else None
    if found is None:
        raise ValueError(f"no lesson {which!r}: the lessons are {', '.join(BY_NUMBER)}")
    return found


def lessons(which: Iterable[str | int] | str | int | None = None) -> list[Lesson]:
    """Every lesson (``None``), or the ones named, in the order given."""
    if which is None:
        return list(LESSONS)
    if isinstance(which, str | int):
        which = [which]
    return [lesson(w) for w in which]


def of_module(module: str) -> Lesson:
    """The lesson a module of ``labkit.lessons.<package>`` belongs to."""
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["labkit", "lessons"]:
        raise ValueError(f"{module} is not inside labkit.lessons")
    for candidate in LESSONS:
        if candidate.package == parts[2]:
            return candidate
    raise ValueError(f"{module}: no registry row for the package {parts[2]} (labkit/course/registry.py)")
