"""The backends: one object each, in one table. Nothing else decides by a backend's name.

``get(name)`` follows ``labkit.config.resolve_backend`` (argument, then ``LABKIT_BACKEND``, then
embedded) and returns the backend object that ``labkit.connect()`` and the ``labkit`` command ask:
see ``labkit.backends.base.Backend`` for what each one answers. ``servers`` spawns, health-checks
and stops every server process labkit runs.
"""

from __future__ import annotations

from labkit import config
from labkit.backends.aws import Aws
from labkit.backends.base import DUMMY_CREDENTIALS, Backend, Check, Connection, Identity, Route, StatusReport
from labkit.backends.embedded import Embedded
from labkit.backends.localstack import LocalStack

__all__ = [
    "BACKENDS",
    "DUMMY_CREDENTIALS",
    "Backend",
    "Check",
    "Connection",
    "Identity",
    "Route",
    "StatusReport",
    "get",
]

BACKENDS: dict[str, Backend] = {"embedded": Embedded(), "localstack": LocalStack(), "aws": Aws()}


def get(name: str | None = None) -> Backend:
    """The backend object for ``name`` (None: ``LABKIT_BACKEND``, else embedded); UnknownBackend otherwise."""
    return BACKENDS[config.resolve_backend(name)]
