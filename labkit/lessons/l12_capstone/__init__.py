"""Lesson 12 · capstone: the order pipeline as one CloudFormation stack, tested with pytest.

The stack's template, the consumer (``orders.py``, ``store.py``), the receiver and the end-to-end test
are files in ``notebooks/capstone/``; the notebook makes the CloudFormation and pipeline calls. This
package reads the template, zips the consumer, draws the stack's events, plays the mail-tracking
service (``callbacks``), accounts for every order, and holds the checks and the closing questions.
"""

from labkit.lessons.l12_capstone import checks
from labkit.lessons.l12_capstone.callbacks import (
    Callback,
    order_callbacks,
    order_event,
    poison_callback,
    post,
    post_all,
)
from labkit.lessons.l12_capstone.pipeline import (
    code_package,
    event_timeline,
    load_template,
    orders_report,
    outputs,
    plot_events,
    timeline_text,
)
from labkit.lessons.l12_capstone.questions import QUESTIONS as questions

__all__ = [
    "Callback",
    "checks",
    "code_package",
    "event_timeline",
    "load_template",
    "order_callbacks",
    "order_event",
    "orders_report",
    "outputs",
    "plot_events",
    "poison_callback",
    "post",
    "post_all",
    "questions",
    "timeline_text",
]
