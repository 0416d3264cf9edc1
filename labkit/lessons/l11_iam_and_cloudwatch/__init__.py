"""Lesson 11 · IAM and CloudWatch: the checks (the IAM-enforcing server is in enforcing.py).

A notebook imports what it uses from here: ``from labkit.lessons.l11_iam_and_cloudwatch import checks, ...``.
"""

from labkit.lessons.l11_iam_and_cloudwatch import checks

__all__ = ["checks"]
