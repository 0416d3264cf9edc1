"""Lesson 06's webhook kit: a mail-tracking service that sends signed callbacks, and the customer's side.

- ``MailTracker`` (sender): signs every delivery per the Standard Webhooks specification with the
  ``standardwebhooks`` package, retries with exponential backoff and full jitter, and dead-letters
  what it gives up on; ``log`` is the delivery timeline.
- ``WebhookReceiver``: a real HTTP server on 127.0.0.1 that verifies, de-duplicates, bounds body size
  and read time, hands events off and answers at once; ``/sns`` takes Amazon SNS HTTP deliveries.
- ``QueueWorker``: the SQS consumer that runs the lesson's handler on each queued event.
- ``EventAccounting``: where every published event ended up; ``delivery_chart``/``delivery_summary`` draw the
  delivery timeline; ``checks``: the exercises' checks.
"""

from labkit.lessons.l06_webhooks import checks
from labkit.lessons.l06_webhooks.accounting import EventAccounting
from labkit.lessons.l06_webhooks.deliveries import delivery_chart, delivery_summary
from labkit.lessons.l06_webhooks.receiver import SeenIds, WebhookReceiver
from labkit.lessons.l06_webhooks.sender import (
    EVENT_TYPES,
    Attempt,
    Endpoint,
    MailTracker,
    RetryPolicy,
    backoff_delay,
    new_secret,
    new_webhook_id,
    retryable,
    signed_headers,
)
from labkit.lessons.l06_webhooks.worker import Handled, QueueWorker

__all__ = [
    "EVENT_TYPES",
    "Attempt",
    "Endpoint",
    "EventAccounting",
    "Handled",
    "MailTracker",
    "QueueWorker",
    "RetryPolicy",
    "SeenIds",
    "WebhookReceiver",
    "backoff_delay",
    "checks",
    "delivery_chart",
    "delivery_summary",
    "new_secret",
    "new_webhook_id",
    "retryable",
    "signed_headers",
]
