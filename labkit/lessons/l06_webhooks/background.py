"""Run a function of the notebook in a background thread, so the next cells can run while it works.

Lesson 06's worker loop is written in a cell as ``def work(stop): ...``: it long-polls the queue,
handles each message and deletes it, until ``stop.is_set()``. ``Background(work).start()`` runs it
in a daemon thread of the kernel; ``stop()`` sets the event and waits for the loop to notice (one
long poll at most). If the loop raises, the thread ends and ``error`` says why; nothing here talks
to AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """``Background(work).start()`` runs ``work(stop)`` in a thread; ``stop()`` ends it; ``error``."""

    def __init__(self, work: Callable[[threading.Event], object], name: str = "labkit-worker") -> None:
        self.work = work
        self.name = name
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Background:
        if not self.running:
            self._stop = threading.Event()
            self.error = ""
            self._thread = threading.Thread(target=self._run, args=(self._stop,), daemon=True, name=self.name)
            self._thread.start()
        return self

    def _run(self, stop: threading.Event) -> None:
        try:
            self.work(stop)
        except Exception as err:  # the loop itself failed (not one message): keep why, for the notebook
            self.error = f"{type(err).__name__}: {err}"

    def stop(self, timeout: float = 25.0) -> bool:
        """Ask the loop to stop and wait up to ``timeout`` s (longer than a 20 s long poll); True if it did."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped: " + self.error if self.error else "stopped")
        return f"Background({getattr(self.work, '__name__', 'work')}, {state})"
