"""Lesson 11 · IAM and CloudWatch: a MiniStack that enforces IAM (``start_for``), the checks and the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l11_iam_and_cloudwatch import checks, ...``.
"""

from labkit.lessons.l11_iam_and_cloudwatch import checks
from labkit.lessons.l11_iam_and_cloudwatch.enforcing import EnforcingServer, start_for
from labkit.lessons.l11_iam_and_cloudwatch.questions import QUESTIONS as questions

__all__ = ["EnforcingServer", "checks", "questions", "start_for"]
