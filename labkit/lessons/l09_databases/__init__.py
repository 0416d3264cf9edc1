"""Lesson 09 · databases: the read-cost chart, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l09_databases import checks, ...``.
"""

from labkit.lessons.l09_databases import checks
from labkit.lessons.l09_databases.charts import read_cost_chart

__all__ = ["checks", "read_cost_chart"]
