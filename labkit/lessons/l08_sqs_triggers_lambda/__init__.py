"""Lesson 08 · SQS triggers Lambda: reading what the handlers recorded, the accounting of every message, the
exercises' orders and worker package, the checks and the end-of-lesson questions.

The notebook makes the calls it teaches itself (sends, mappings, receives); this package reads and waits.
A notebook imports what it uses from here: ``from labkit.lessons.l08_sqs_triggers_lambda import checks, ...``.
"""

from labkit.lessons.l08_sqs_triggers_lambda import checks
from labkit.lessons.l08_sqs_triggers_lambda.batches import (
    BatchAccounting,
    account,
    account_orders,
    recorded_batches,
    wait_for_messages,
)
from labkit.lessons.l08_sqs_triggers_lambda.questions import QUESTIONS as questions
from labkit.lessons.l08_sqs_triggers_lambda.worker import ORDERS, worker_package

__all__ = [
    "ORDERS",
    "BatchAccounting",
    "account",
    "account_orders",
    "checks",
    "questions",
    "recorded_batches",
    "wait_for_messages",
    "worker_package",
]
