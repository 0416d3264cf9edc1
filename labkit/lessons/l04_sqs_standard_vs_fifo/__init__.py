"""Lesson 04 · SQS standard vs FIFO: consumer threads that record what they saw, throughput, the FIFO lanes
widget, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l04_sqs_standard_vs_fifo import checks, ...``.
"""

from labkit.lessons.l04_sqs_standard_vs_fifo import checks
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import Event, out_of_order, run_consumers, seq_of
from labkit.lessons.l04_sqs_standard_vs_fifo.fifo_lanes import (
    GROUP_NAMES,
    FifoLanesView,
    LanesState,
    draw,
    image,
    png,
    run_fifo_lanes,
    work_time,
)
from labkit.lessons.l04_sqs_standard_vs_fifo.throughput import (
    ACTIONS,
    Throughput,
    measure_throughput,
    throughput_chart,
    throughput_table,
)

__all__ = [
    "ACTIONS",
    "GROUP_NAMES",
    "Event",
    "FifoLanesView",
    "LanesState",
    "Throughput",
    "checks",
    "draw",
    "image",
    "measure_throughput",
    "out_of_order",
    "png",
    "run_consumers",
    "run_fifo_lanes",
    "seq_of",
    "throughput_chart",
    "throughput_table",
    "work_time",
]
