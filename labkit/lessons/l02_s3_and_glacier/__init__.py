"""Lesson 02 · S3 and Glacier: what each storage class costs over a year, the checks and the closing questions.

A notebook imports what it uses from here: ``from labkit.lessons.l02_s3_and_glacier import checks, ...``.
"""

from labkit.lessons.l02_s3_and_glacier import checks
from labkit.lessons.l02_s3_and_glacier.costs import (
    BY_API,
    PRICE_NOTE,
    PRICE_SOURCE,
    RESTORE_DOC,
    STORAGE_CLASSES,
    STORAGE_CLASSES_DOC,
    StorageClass,
    YearCost,
    draw_year_costs,
    format_cost_table,
    monthly_costs,
    year_costs,
)
from labkit.lessons.l02_s3_and_glacier.questions import QUESTIONS as questions

__all__ = [
    "BY_API",
    "PRICE_NOTE",
    "PRICE_SOURCE",
    "RESTORE_DOC",
    "STORAGE_CLASSES",
    "STORAGE_CLASSES_DOC",
    "StorageClass",
    "YearCost",
    "checks",
    "draw_year_costs",
    "format_cost_table",
    "monthly_costs",
    "questions",
    "year_costs",
]
