"""Every lesson's wall time on the embedded backend, its slowest cell, and lesson 07's live run.

Run with `.venv/bin/python benchmarks/notebooks.py [NN ...]` (default: every lesson). Each lesson
runs in a fresh kernel on freshly wiped private servers, as under `make test`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _timed(execute_cell, timings: list[tuple[float, int, str]]):
    """Wrap nbclient's async_execute_cell so each cell's wall time is recorded."""

    async def timed(cell, cell_index, execution_count=None, **kwargs):
        t0 = time.perf_counter()
        result = await execute_cell(cell, cell_index, execution_count, **kwargs)
        timings.append((time.perf_counter() - t0, cell_index, cell.source.split("\n")[0][:50]))
        return result

    return timed


def main(selected: list[str]) -> None:
    os.environ.update(
        {
            "LABKIT_HOME": tempfile.mkdtemp(prefix="labkit-bench-"),
            "LABKIT_PORT": "0",
            "LABKIT_MOTO_PORT": "0",
            "LABKIT_DNS_PORT": "0",
            "LABKIT_CHECKS_MUST_PASS": "1",
        }
    )
    import nbformat
    from nbclient import NotebookClient

    from labkit.backends import embedded

    paths = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb") if not selected or p.name[:2] in selected)
    rows, total = [], 0.0
    try:
        for path in paths:
            embedded.ensure_running()
            embedded.reset()
            nb = nbformat.read(path, as_version=4)
            timings: list[tuple[float, int, str]] = []
            client = NotebookClient(
                nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
            )

            client.async_execute_cell = _timed(client.async_execute_cell, timings)
            t0 = time.perf_counter()
            client.execute()
            wall = time.perf_counter() - t0
            total += wall
            slowest = max(timings)
            rows.append((path.stem, wall, f"cell {slowest[1]} ({slowest[0]:.1f} s): {slowest[2]}"))
            for seconds, index, first in timings:
                if "until_settled" in nb.cells[index].source:
                    rows.append(("  07 live run (burst → settled)", seconds, f"cell {index}: {first}"))
    finally:
        embedded.stop()
    print(f"| {'lesson':<34} | {'wall':>7} | slowest cell |")
    print(f"|{'-' * 36}|{'-' * 9}|--------------|")
    for name, seconds, note in rows:
        print(f"| {name:<34} | {seconds:>5.1f} s | {note} |")
    print(f"| {'whole course':<34} | {total:>5.1f} s | {len(paths)} lessons, one after another |")


if __name__ == "__main__":
    main(sys.argv[1:])
