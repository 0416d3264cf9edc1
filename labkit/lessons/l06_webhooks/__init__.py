"""Lesson 06's kit: a mail-tracking service that sends signed callbacks, and the plumbing around your receiver.

The receiver's decisions (verify, deduplicate, ``send_message``, answer) and the worker loop
(receive, handle, delete) are functions written in the notebook; this package only runs them and
shows what happened:

- ``MailTracker`` (sender): the third-party service. It signs every delivery per the Standard
  Webhooks specification with the ``standardwebhooks`` package, retries with exponential backoff
  and full jitter, and hands what it gives up on to the notebook's ``dead_letter`` function;
  ``log`` is the delivery timeline. ``signed_headers`` signs one delivery by hand.
- ``WebhookServer``: a real HTTP server on 127.0.0.1 that hosts the notebook's functions (size and
  time limits, threads, answers); ``Background``: runs the notebook's worker loop in a thread, and
  restarts it when it fails; ``verify_sns``: is an SNS message from SNS (its signature, or on an
  emulator an allow-list of the receiver's topics).
- ``DeliveryTally``: where every delivery ended up; ``delivery_chart``/``delivery_summary``: the
  timeline; ``checks``: the exercise's check; ``questions``: the end-of-lesson questions.
"""

from labkit.lessons.l06_webhooks import checks
from labkit.lessons.l06_webhooks.accounting import DeliveryTally
from labkit.lessons.l06_webhooks.background import Background
from labkit.lessons.l06_webhooks.deliveries import delivery_chart, delivery_summary
from labkit.lessons.l06_webhooks.questions import QUESTIONS as questions
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
from labkit.lessons.l06_webhooks.server import WebhookServer
from labkit.lessons.l06_webhooks.sns import verify_sns

__all__ = [
    "EVENT_TYPES",
    "Attempt",
    "Background",
    "DeliveryTally",
    "Endpoint",
    "MailTracker",
    "RetryPolicy",
    "WebhookServer",
    "backoff_delay",
    "checks",
    "delivery_chart",
    "delivery_summary",
    "new_secret",
    "new_webhook_id",
    "questions",
    "retryable",
    "signed_headers",
    "verify_sns",
]
