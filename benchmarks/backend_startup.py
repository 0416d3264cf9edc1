"""Embedded backend: cold start until both servers answer, connect() when already up, idle memory.

Run with `make bench` (or `.venv/bin/python benchmarks/backend_startup.py`). It uses a private
LABKIT_HOME and free ports, so it never touches a running lab.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time

COLD_RUNS = 5
CONNECT_RUNS = 20


def main() -> None:
    os.environ.update(
        {
            "LABKIT_HOME": tempfile.mkdtemp(prefix="labkit-bench-"),
            "LABKIT_PORT": "0",
            "LABKIT_MOTO_PORT": "0",
            "LABKIT_DNS_PORT": "0",
        }
    )
    import labkit
    from labkit.backends import embedded

    cold = []
    for _ in range(COLD_RUNS):
        embedded.stop()
        t0 = time.perf_counter()
        embedded.ensure_running()
        cold.append(time.perf_counter() - t0)

    labkit.connect(show=False)  # first connect in this process imports what it needs
    warm = []
    for _ in range(CONNECT_RUNS):
        t0 = time.perf_counter()
        labkit.connect(show=False)
        warm.append(time.perf_counter() - t0)

    time.sleep(1.0)  # let the servers settle before reading memory
    state = embedded.read_state()
    memory = {server.name: embedded.memory_mb(server) for server in state.servers}
    embedded.stop()

    rows = [
        (
            "cold start, both servers answering",
            f"{statistics.median(cold):.2f} s",
            f"median of {COLD_RUNS}, max {max(cold):.2f} s",
        ),
        ("labkit.connect() when already up", f"{statistics.median(warm) * 1000:.0f} ms", f"median of {CONNECT_RUNS}"),
        ("idle memory, MiniStack", f"{memory['ministack']:.0f} MB", "RSS after start"),
        ("idle memory, moto server", f"{memory['moto']:.0f} MB", "RSS after start"),
    ]
    print(f"embedded backend on this machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | value    | how |")
    print(f"|{'-' * (width + 2)}|----------|-----|")
    for name, value, how in rows:
        print(f"| {name:<{width}} | {value:<8} | {how} |")


if __name__ == "__main__":
    main()
