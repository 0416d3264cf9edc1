"""How every exercise check reports: a :class:`Result` with a :class:`Status`, one printed line, never an exception.

A check inspects the real backend state and returns ``passed(...)``, ``hint(...)`` or
``unavailable(...)``; each prints its one line when made (✓, ✗ not yet, or the standard
"not on this backend" line) so a notebook reader sees it, and carries its status, so
``labkit progress`` reads the verdict from the result rather than from what was printed.

The one exception to "never raises": the test suite runs the *solved* lessons with
``LABKIT_CHECKS_MUST_PASS=1``, and there a hint raises :class:`CheckFailed`, so a lesson whose
solution stops passing its own check cannot go unnoticed.

Checks are registered as exercises with :func:`labkit.course.exercises.exercise`, which wraps
them in :func:`check`.
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from labkit.aws.errors import error_code

# Lessons print this before anything the backend lacks; the test suite collects these lines
# into the README's lesson × backend table (conftest.py, tests/backend_matrix.py).
UNAVAILABLE_PREFIX = "– not on this backend:"


class Status(str, enum.Enum):
    """Where an exercise stands. ``NOT_STARTED`` is progress's own: nothing was found to check."""

    PASS = "pass"
    NOT_YET = "not yet"
    NOT_STARTED = "not started"
    UNAVAILABLE = "unavailable"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Result:
    """A check's verdict. Truthy when the exercise passes; its line was printed when it was made."""

    status: Status
    message: str

    @property
    def ok(self) -> bool:
        return self.status is Status.PASS

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        pass  # already printed; showing the object under it would only add noise


class CheckFailed(AssertionError):
    """Raised instead of returning a hint, only when LABKIT_CHECKS_MUST_PASS=1 (the test suite)."""


def passed(message: str) -> Result:
    print(f"✓ {message}")
    return Result(Status.PASS, message)


def hint(message: str) -> Result:
    print(f"✗ not yet: {message}")
    if os.environ.get("LABKIT_CHECKS_MUST_PASS") == "1":
        raise CheckFailed(message)
    return Result(Status.NOT_YET, message)


def unavailable(what: str, why: str) -> Result:
    """The exercise needs ``what``, which this backend lacks: say so, and do not count it as failed."""
    print(f"{UNAVAILABLE_PREFIX} {what}; {why}")
    return Result(Status.UNAVAILABLE, f"{what}; {why}")


def check(func: Callable[..., Result]) -> Callable[..., Result]:
    """Turn any error inside a check into a hint, so the notebook keeps running.

    An argument that is None is an exercise not done yet (the student version leaves its names
    None): that gets its own hint instead of whatever the backend would say about a None name.
    """
    parameters = inspect.signature(func).parameters

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        given = {**dict(zip(parameters, args, strict=False)), **kwargs}
        unset = [name for name, value in given.items() if value is None]
        if unset:
            missing = ", ".join(unset)
            return hint(f"nothing to check yet ({missing} is None): do the exercise above and run it, then this")
        try:
            return func(*args, **kwargs)
        except CheckFailed:
            raise
        except botocore.exceptions.ClientError as err:
            return hint(f"the backend said {error_code(err)}: {err}")
        except Exception as err:  # a check must never stop the notebook
            return hint(f"{type(err).__name__}: {err}")

    return wrapper
