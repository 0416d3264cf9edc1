"""Waiting for a status with a progress bar: what AWS takes minutes for, the emulators do at once."""

from __future__ import annotations

import time
from collections.abc import Callable

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
