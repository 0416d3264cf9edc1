"""Lesson 05 · dead-letter queues: a queue wired to its DLQ, the redrive fallback, the retry chart, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l05_dead_letter_queues import checks, ...``.
"""

from labkit.lessons.l05_dead_letter_queues import checks
from labkit.lessons.l05_dead_letter_queues.dlq import (
    QueuePair,
    create_queue_with_dlq,
    move_messages,
    wait_for_move_task,
)
from labkit.lessons.l05_dead_letter_queues.retries import Attempt, retry_chart

__all__ = [
    "Attempt",
    "QueuePair",
    "checks",
    "create_queue_with_dlq",
    "move_messages",
    "retry_chart",
    "wait_for_move_task",
]
