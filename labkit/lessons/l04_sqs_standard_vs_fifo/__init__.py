"""Lesson 04 · SQS standard vs FIFO: running the notebook's consumer in threads, throughput timing, the FIFO
lanes widget, the checks and the end-of-lesson questions.

A notebook imports what it uses from here: ``from labkit.lessons.l04_sqs_standard_vs_fifo import checks, ...``.
The notebook's cells make every SQS call the lesson teaches; nothing here sends, receives or deletes.
"""

from labkit.lessons.l04_sqs_standard_vs_fifo import checks
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import ConsumerLog, Event, out_of_order, run_consumers, seq_of
from labkit.lessons.l04_sqs_standard_vs_fifo.fifo_lanes import (
    FifoLanesView,
    LanesState,
    draw,
    image,
    png,
    work_time,
)
from labkit.lessons.l04_sqs_standard_vs_fifo.questions import QUESTIONS as questions
from labkit.lessons.l04_sqs_standard_vs_fifo.throughput import (
    ACTIONS,
    Throughput,
    throughput_chart,
    throughput_table,
)

__all__ = [
    "ACTIONS",
    "ConsumerLog",
    "Event",
    "FifoLanesView",
    "LanesState",
    "Throughput",
    "checks",
    "draw",
    "image",
    "out_of_order",
    "png",
    "questions",
    "run_consumers",
    "seq_of",
    "throughput_chart",
    "throughput_table",
    "work_time",
]
