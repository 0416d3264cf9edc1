"""Waiting for a status with a progress bar: what AWS takes minutes for, the emulators do at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tqdm.auto import tqdm


def wait_for_status(
    describe: Callable[[], str],
    wanted: str,
    what: str,
    timeout_s: float = 1800.0,
    every_s: float = 5.0,
    progress: bool = True,
) -> str:
    """Call ``describe()`` (which returns a status string) until it returns ``wanted``; show progress.

    On the embedded backend RDS instances and CloudFront distributions are ready at once; on AWS
    they take minutes, so the bar counts seconds.
    Returns the last status seen (which is ``wanted`` unless the timeout passed).
    """
    started = time.monotonic()
    status = describe()
    with tqdm(total=int(timeout_s), desc=f"{what}: {status}", unit="s", leave=False, disable=not progress) as bar:
        while status != wanted and time.monotonic() - started < timeout_s:
            time.sleep(every_s)
            status = describe()
            bar.set_description(f"{what}: {status}")
            bar.n = int(time.monotonic() - started)
            bar.refresh()
    return status


T = TypeVar("T")


def progress_bar(total: float, desc: str):  # a tqdm bar counting seconds
    from tqdm.auto import tqdm

    return tqdm(total=round(total, 1), desc=desc, unit="s", bar_format="{desc}: {bar} {n:.1f}/{total:.0f} s")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.25,
    desc: str = "waiting",
) -> T:
    """Call ``probe`` until it returns something truthy, showing a progress bar; return that value.

    Raises ``TimeoutError`` (with ``desc`` in the message) when ``timeout`` seconds pass first.
    """
    start = time.monotonic()
    bar = progress_bar(timeout, desc)
    try:
        while True:
            value = probe()
            elapsed = time.monotonic() - start
            bar.n = round(min(elapsed, timeout), 1)
            bar.refresh()
            if value:
                return value
            if elapsed >= timeout:
                raise TimeoutError(f"{desc}: nothing after {timeout:.0f} s")
            time.sleep(interval)
    finally:
        bar.close()
