"""Lesson 08 · SQS triggers Lambda: runs of a mapping and the reconciliation of every message, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l08_sqs_triggers_lambda import checks, ...``.
"""

from labkit.lessons.l08_sqs_triggers_lambda import checks
from labkit.lessons.l08_sqs_triggers_lambda.batches import BatchAccounting, account, run_batches

__all__ = ["BatchAccounting", "account", "checks", "run_batches"]
