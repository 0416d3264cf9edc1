"""Lesson 09 · databases: the read-cost chart, the checks and the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l09_databases import checks, ...``.
"""

from labkit.lessons.l09_databases import checks
from labkit.lessons.l09_databases.charts import read_cost_chart
from labkit.lessons.l09_databases.questions import QUESTIONS as questions

__all__ = ["checks", "questions", "read_cost_chart"]
