"""Argument types for ``labkit``'s parsers: each refuses a bad value with the one line argparse prints.

argparse turns the ``ArgumentTypeError`` into ``labkit ...: argument --port: <message>``, exit code 2,
before any command runs.
"""

from __future__ import annotations

import argparse

from labkit import config
from labkit.errors import InvalidSetting


def port(text: str) -> int:
    """A TCP port, 1-65535, or 0 for any free port."""
    try:
        value = int(text)
    except ValueError:
        message = f"{text!r} is not a port number: use 1-65535, or 0 for any free port"
        raise argparse.ArgumentTypeError(message) from None
    try:
        return config.check_port(value, "port")
    except InvalidSetting as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def region(text: str) -> str:
    """A region botocore's partition data lists."""
    try:
        return config.check_region(text, "--region")
    except InvalidSetting as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def count(text: str) -> int:
    """A whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count: use a whole number of 1 or more")
    return value
