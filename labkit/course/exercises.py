"""Every exercise of the course, registered where its check is written.

In a lesson's ``checks.py``::

    @exercise(1, "your first queue", looks_for="queue my-first-queue-<suffix> or one tagged 00-start-here")
    def first_queue(queue_name: str) -> Result:
        ...  # inspect the backend, return passed(...) or hint(...)

    @first_queue.finder
    def _find_first_queue(scan: Scan) -> list[Candidate]:
        ...  # what on the backend this exercise made, for ``labkit progress``

The decorator makes the function a check (:func:`labkit.course.checks.check`: never raises, a None
argument hints "nothing to check yet") and registers it with its lesson (from the module's
package), number and title; each pass is recorded (``labkit.course.records``), so it outlives the
lesson's clean-up. An exercise whose result lives only in the learner's kernel says so
with ``notebook_only=...`` instead of a finder. :func:`all_exercises` imports every lesson's checks
and returns them in course order.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from labkit.course import records
from labkit.course.checks import Result, check
from labkit.course.registry import Lesson, lessons, of_module
from labkit.course.scan import Candidate, Scan

Finder = Callable[[Scan], list[Candidate]]


@dataclass
class Exercise:
    lesson: Lesson
    number: int  # 1, 2, ... in the lesson's order
    title: str  # the exercise's title in the notebook
    check: ExerciseCheck
    looks_for: str  # what the finder looks for, said when it finds nothing
    find: Finder | None = None
    notebook_only: str = ""  # why the result cannot be read from the backend (then there is no finder)

    @property
    def key(self) -> str:
        return f"{self.lesson.number}.{self.number}"

    @property
    def check_name(self) -> str:
        """The name the notebook's check cell calls: ``checks.<check_name>(...)``."""
        return self.check.__name__


class ExerciseCheck:
    """A registered check: call it like the function it wraps; ``.finder`` attaches its finder."""

    def __init__(self, func: Callable[..., Result], exercise: Exercise | None = None) -> None:
        self._checked = check(func)
        functools.update_wrapper(self, func)
        self.__name__: str = func.__name__
        self.exercise = exercise

    def __call__(self, *args: Any, **kwargs: Any) -> Result:
        result = self._checked(*args, **kwargs)
        if self.exercise is not None:  # a pass is recorded here, by the check that passed (records.py)
            records.record(self.exercise.key, self.exercise.title, result)
        return result

    def finder(self, find: Finder) -> Finder:
        assert self.exercise is not None
        self.exercise.find = find
        return find


_REGISTERED: dict[tuple[str, int], Exercise] = {}


def exercise(
    number: int, title: str, *, looks_for: str = "", notebook_only: str = ""
) -> Callable[[Callable[..., Result]], ExerciseCheck]:
    """Register the decorated function as exercise ``number`` of the lesson whose package defines it."""

    def register(func: Callable[..., Result]) -> ExerciseCheck:
        wrapped = ExerciseCheck(func)
        entry = Exercise(of_module(func.__module__), number, title, wrapped, looks_for, None, notebook_only)
        wrapped.exercise = entry
        _REGISTERED[(entry.lesson.number, number)] = entry  # a re-import replaces, never duplicates
        return wrapped

    return register


def all_exercises(which: Iterable[str | int] | str | int | None = None) -> list[Exercise]:
    """The exercises of the lessons named (default: all), in course order."""
    chosen = lessons(which)
    for lesson in chosen:
        importlib.import_module(f"{lesson.module}.checks")
    numbers = {lesson.number for lesson in chosen}
    return [e for key, e in sorted(_REGISTERED.items()) if key[0] in numbers]
