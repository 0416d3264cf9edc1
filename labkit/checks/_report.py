"""How every check reports: one line, ✓ or a hint, and never an exception.

The one exception to "never": the test suite runs the *solved* lessons with
``LABKIT_CHECKS_MUST_PASS=1``, and there a hint fails the cell, so a lesson
whose solution stops passing its own check cannot go unnoticed.
"""

from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass

import botocore.exceptions

from labkit.aws.errors import error_code
from labkit.lab import UNAVAILABLE_PREFIX


@dataclass(frozen=True)
class Result:
    """A check's verdict. It is truthy when the exercise passes; its line is printed once, when made."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        pass  # already printed; showing `True` under it would only add noise


def passed(message: str) -> Result:
    print(f"✓ {message}")
    return Result(True, message)


class CheckFailed(AssertionError):
    """Raised instead of returning a hint, only when LABKIT_CHECKS_MUST_PASS=1 (the test suite)."""


def hint(message: str) -> Result:
    print(f"✗ not yet: {message}")
    if os.environ.get("LABKIT_CHECKS_MUST_PASS") == "1":
        raise CheckFailed(message)
    return Result(False, message)


def unavailable(what: str, why: str) -> Result:
    """The exercise needs ``what``, which this backend lacks: say so, and do not count it as failed."""
    print(f"{UNAVAILABLE_PREFIX} {what}; {why}")
    return Result(False, f"{what}: {why}")


def check(func):
    """Turn any error inside a check into a hint, so the notebook keeps running.

    An argument that is None is an exercise not done yet (the student version leaves its names
    None): that gets its own hint instead of whatever the backend would say about a None name.
    """
    parameters = inspect.signature(func).parameters

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> Result:
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
