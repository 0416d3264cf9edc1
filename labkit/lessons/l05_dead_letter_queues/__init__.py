"""Lesson 05 · dead-letter queues: waiting for a redrive task, the retry chart, the checks and the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l05_dead_letter_queues import checks, ...``.
"""

from labkit.lessons.l05_dead_letter_queues import checks
from labkit.lessons.l05_dead_letter_queues.dlq import wait_for_move_task
from labkit.lessons.l05_dead_letter_queues.questions import QUESTIONS as questions
from labkit.lessons.l05_dead_letter_queues.retries import Attempt, retry_chart

__all__ = ["Attempt", "checks", "questions", "retry_chart", "wait_for_move_task"]
