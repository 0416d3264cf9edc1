"""Errors labkit raises, each one line that says what happened and what to run.

    LabkitError
    ├── UnknownBackend          LABKIT_BACKEND (or backend=...) names no backend
    ├── InvalidSetting          a setting or argument labkit cannot use (a port, a region, LABKIT_HOME)
    ├── BackendNotInstalled     the embedded servers' environment is missing
    ├── BackendNotRunning       nothing answers where the backend should be
    │   └── LocalStackAuthRequired   the container exited asking for an auth token
    ├── BackendRestarted        the backend was restarted, stopped or wiped since this notebook connected
    ├── BackendFailedToStart    a server process exited or never answered
    ├── PortInUse               another program holds a port labkit needs
    ├── RealAWSNotAllowed       the real-AWS guard refused
    ├── NoCredentials           real AWS allowed, but no credentials were found
    ├── ClassroomError          a classroom command cannot go on (what to pass or run)
    ├── FunctionNotRunnable     a Lambda function ended in state Failed, or never became Active
    └── WorkerFailed            a lesson's background worker stopped: which, why, and what it had done

In a notebook, `labkit.connect()` shows the message without a traceback; on the
command line `labkit` prints it and exits 1.
"""

from __future__ import annotations


class LabkitError(Exception):
    """Base class: the message is written for the learner, with the fix in it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the one line is the whole story.
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class UnknownBackend(LabkitError):
    pass


class InvalidSetting(LabkitError, ValueError):
    """A setting (environment variable) or command-line argument that cannot be used; checked before anything starts."""


class BackendNotInstalled(LabkitError):
    pass


class BackendNotRunning(LabkitError):
    pass


class LocalStackAuthRequired(BackendNotRunning):
    pass


class BackendRestarted(LabkitError):
    """What this notebook made is gone with the backend it connected to: run the lesson from the top."""


class BackendFailedToStart(LabkitError):
    pass


class PortInUse(LabkitError):
    pass


class RealAWSNotAllowed(LabkitError):
    pass


class NoCredentials(LabkitError):
    pass


class ClassroomError(LabkitError):
    """A classroom command cannot go on; the message says what to pass or run."""


class FunctionNotRunnable(LabkitError):
    """A Lambda function ended in state Failed, or never became Active."""


class WorkerFailed(LabkitError):
    """A lesson's background worker stopped; the message says which, why, and what it had done by then."""
