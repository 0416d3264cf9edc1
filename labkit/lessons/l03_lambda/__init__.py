"""Lesson 03 · Lambda: the checks and the closing questions (its waits and zips are shared: labkit.aws.lambdas).

A notebook imports what it uses from here: ``from labkit.lessons.l03_lambda import checks, ...``.
"""

from labkit.lessons.l03_lambda import checks
from labkit.lessons.l03_lambda.questions import QUESTIONS as questions

__all__ = ["checks", "questions"]
