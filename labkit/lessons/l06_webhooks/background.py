"""Run a function of the notebook in a background thread, so the next cells can run while it works.

Lesson 06's worker loop is written in a cell as ``def work(stop): ...``: it long-polls the queue,
handles each message and deletes it, until ``stop.is_set()``. ``Background(work).start()`` runs it
in a daemon thread of the kernel; ``stop()`` sets the event and waits for the loop to notice (one
long poll at most). Nothing here talks to AWS.

A loop that raises (a ``delete_message`` that failed, a queue that went away) never ends silently:
every failure goes into ``errors`` (``error`` is the last), with the one line of ``labkit.session``
when the backend was restarted under it, and the loop is started again after ``restart_after_s``
(doubled after each failure in a row), as a process supervisor restarts a crashed worker: the
message it was on was not deleted, so it comes back after its visibility timeout. It stops for
good, and ``stopped`` says why, when the backend was stopped or restarted (nothing it could
receive is there any more) or after ``max_restarts`` failures in a row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from labkit import session


class Background:
    """``Background(work).start()`` runs ``work(stop)`` in a thread; ``stop()`` ends it; ``errors``, ``stopped``."""

    def __init__(
        self,
        work: Callable[[threading.Event], object],
        name: str = "labkit-worker",
        *,
        restart_after_s: float = 1.0,
        max_restarts: int = 3,
    ) -> None:
        self.work = work
        self.name = name
        self.restart_after_s = restart_after_s
        self.max_restarts = max_restarts
        self.errors: list[str] = []  # every failure of the loop, in order
        self.restarts = 0
        self.stopped = ""  # why the loop stopped by itself (not by stop()); "" while it runs or after stop()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def error(self) -> str:
        """The last failure of the loop ("" if none)."""
        return self.errors[-1] if self.errors else ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Background:
        if not self.running:
            self._stop = threading.Event()
            self.errors, self.restarts, self.stopped = [], 0, ""
            self._thread = threading.Thread(target=self._run, args=(self._stop,), daemon=True, name=self.name)
            self._thread.start()
        return self

    def _run(self, stop: threading.Event) -> None:
        in_a_row = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.work(stop)
                return  # the loop returned: stop() asked it to, or it ended by itself
            except Exception as err:  # the loop failed: keep why, for the notebook, and decide what next
                self.errors.append(session.describe(err))
                if session.is_backend_gone(err):
                    self.stopped = f"stopped: {self.error}"
                    return
            in_a_row = 1 if time.monotonic() - started > 30 else in_a_row + 1  # a long good run resets the count
            if in_a_row > self.max_restarts:
                self.stopped = f"stopped after {in_a_row} failures in a row; the last: {self.error}"
                return
            self.restarts += 1
            stop.wait(self.restart_after_s * 2 ** (in_a_row - 1))  # 1, 2, 4 s: time for a backend to come back

    def stop(self, timeout: float = 25.0) -> bool:
        """Ask the loop to stop and wait up to ``timeout`` s (longer than a 20 s long poll); True if it did."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

    def summary(self) -> str:
        """One line: running or why it stopped, and how many failures (the lesson's tally prints it)."""
        state = "running" if self.running else (self.stopped or "stopped")
        if not self.errors:
            return f"worker: {state}, no failures"
        plural = "s" if len(self.errors) != 1 else ""
        restarted = f", restarted {self.restarts} time{'s' if self.restarts != 1 else ''}" if self.restarts else ""
        return f"worker: {state}; {len(self.errors)} failure{plural}{restarted}; the last: {self.error}"

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else (self.stopped or ("stopped: " + self.error if self.error else "stopped"))
        return f"Background({getattr(self.work, '__name__', 'work')}, {state})"
