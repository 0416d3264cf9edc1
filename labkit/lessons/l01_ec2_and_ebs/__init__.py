"""Lesson 01 · EC2 and EBS: an instance's lifecycle watched and drawn, its console read, On-Demand prices,
the checks, the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l01_ec2_and_ebs import checks, ...``.
"""

from labkit.lessons.l01_ec2_and_ebs import checks
from labkit.lessons.l01_ec2_and_ebs.console import lines_with, wait_for_console
from labkit.lessons.l01_ec2_and_ebs.lifecycle import (
    HOURS_PER_MONTH,
    ON_DEMAND_USD_PER_HOUR,
    PRICE_NOTE,
    PRICE_SOURCE,
    STATE_COLOURS,
    STATES,
    Lifecycle,
    Sample,
    Watch,
    draw_lifecycle,
    format_price_table,
    price_rows,
    volume_attachments,
)
from labkit.lessons.l01_ec2_and_ebs.questions import QUESTIONS as questions

__all__ = [
    "HOURS_PER_MONTH",
    "ON_DEMAND_USD_PER_HOUR",
    "PRICE_NOTE",
    "PRICE_SOURCE",
    "STATES",
    "STATE_COLOURS",
    "Lifecycle",
    "Sample",
    "Watch",
    "checks",
    "draw_lifecycle",
    "format_price_table",
    "lines_with",
    "price_rows",
    "questions",
    "volume_attachments",
    "wait_for_console",
]
