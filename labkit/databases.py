"""Helpers for 09-databases: waiting with a progress bar, and the query-vs-scan chart."""

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
) -> str:
    """Call ``describe()`` (which returns a status string) until it returns ``wanted``; show progress.

    On the embedded backend RDS records are ``available`` at once; on AWS a new
    instance takes several minutes, a snapshot a few more, so the bar counts seconds.
    Returns the last status seen (which is ``wanted`` unless the timeout passed).
    """
    started = time.monotonic()
    status = describe()
    with tqdm(total=int(timeout_s), desc=f"{what}: {status}", unit="s", leave=False) as bar:
        while status != wanted and time.monotonic() - started < timeout_s:
            time.sleep(every_s)
            status = describe()
            bar.set_description(f"{what}: {status}")
            bar.n = int(time.monotonic() - started)
            bar.refresh()
    return status


def read_cost_chart(rows: list[tuple[str, int, int]], title: str = "Items read vs items returned"):
    """A horizontal bar chart of (label, ScannedCount, Count): what each read touched vs what it returned."""
    import matplotlib.pyplot as plt

    labels = [r[0] for r in rows]
    scanned = [r[1] for r in rows]
    returned = [r[2] for r in rows]
    y = range(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.8 + 0.7 * len(rows)))
    ax.barh([i + 0.2 for i in y], scanned, height=0.4, label="ScannedCount (items read, and paid for)")
    ax.barh([i - 0.2 for i in y], returned, height=0.4, label="Count (items returned)")
    for i, (s, c) in enumerate(zip(scanned, returned, strict=True)):
        ax.text(s, i + 0.2, f" {s}", va="center", fontsize="small")
        ax.text(c, i - 0.2, f" {c}", va="center", fontsize="small")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel("items")
    ax.set_title(title)
    ax.legend(loc="center right", fontsize="small")
    ax.set_xlim(0, max(scanned + returned + [1]) * 1.15)
    fig.tight_layout()
    return fig
