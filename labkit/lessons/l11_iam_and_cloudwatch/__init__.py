"""Lesson 11 · IAM and CloudWatch: a MiniStack that enforces IAM (``start_for``), and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l11_iam_and_cloudwatch import checks, ...``.
"""

from labkit.lessons.l11_iam_and_cloudwatch import checks
from labkit.lessons.l11_iam_and_cloudwatch.enforcing import EnforcingServer, start_for

__all__ = ["EnforcingServer", "checks", "start_for"]
