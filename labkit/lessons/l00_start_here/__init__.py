"""Lesson 00 · start here: the tour of the core services, the first exercise's check, the closing questions.

A notebook imports what it uses from here: ``from labkit.lessons.l00_start_here import checks, ...``.
"""

from labkit.lessons.l00_start_here import checks
from labkit.lessons.l00_start_here.questions import QUESTIONS as questions
from labkit.lessons.l00_start_here.tour import Row, ServiceTour

__all__ = ["Row", "ServiceTour", "checks", "questions"]
