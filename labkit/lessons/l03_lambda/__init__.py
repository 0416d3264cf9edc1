"""Lesson 03 · Lambda: the checks (the lesson's waits and zips are shared: labkit.aws.lambdas).

A notebook imports what it uses from here: ``from labkit.lessons.l03_lambda import checks, ...``.
"""

from labkit.lessons.l03_lambda import checks

__all__ = ["checks"]
