"""Where labkit's settings come from.

Backend, first match wins:

1. the ``backend=`` argument of ``labkit.connect()`` (or ``--backend`` on the CLI);
2. the ``LABKIT_BACKEND`` environment variable;
3. ``embedded``, the default.

Names are case-insensitive; an empty value counts as unset. Anything else is an
``UnknownBackend`` error that lists the choices.

Real AWS is refused unless ``allow_real_aws=True`` is passed or
``LABKIT_ALLOW_REAL_AWS`` is exactly ``1``.

Region: ``LABKIT_REGION``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``,
else ``us-east-1`` (on real AWS, the SDK's own configured region comes before
the default).

Embedded backend: its state (pid, ports, versions, logs) lives in
``LABKIT_HOME`` (default ``~/.cache/labkit``); MiniStack listens on
``LABKIT_PORT`` (default 4600) and moto on ``LABKIT_MOTO_PORT`` (default 4601), and the
DNS server that answers Route 53's zones on ``LABKIT_DNS_PORT`` (default 4653, UDP and TCP),
all on 127.0.0.1; a port of ``0`` means any free port.
"""

from __future__ import annotations

import os
from pathlib import Path

from labkit.errors import UnknownBackend

BACKENDS = ("embedded", "localstack", "aws")
DEFAULT_BACKEND = "embedded"
DEFAULT_REGION = "us-east-1"
DEFAULT_PORT = 4600
DEFAULT_MOTO_PORT = 4601
DEFAULT_DNS_PORT = 4653
DEFAULT_LOCALSTACK_URL = "http://127.0.0.1:4566"


def resolve_backend(backend: str | None = None) -> str:
    """Return the backend name to use, following the order in this module's docstring."""
    for source, value in (("backend=", backend), ("LABKIT_BACKEND", os.environ.get("LABKIT_BACKEND"))):
        if value is not None and value.strip():
            name = value.strip().lower()
            if name not in BACKENDS:
                raise UnknownBackend(
                    f"unknown backend {value.strip()!r} (from {source}): "
                    f"choose one of {', '.join(BACKENDS)}, e.g. LABKIT_BACKEND=embedded"
                )
            return name
    return DEFAULT_BACKEND


def real_aws_allowed(allow_real_aws: bool = False) -> bool:
    """True only if the caller or the environment explicitly opted in."""
    return allow_real_aws is True or os.environ.get("LABKIT_ALLOW_REAL_AWS") == "1"


def region() -> str:
    for name in ("LABKIT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_REGION


def home() -> Path:
    return Path(os.environ.get("LABKIT_HOME") or Path.home() / ".cache" / "labkit")


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number: use 1024-65535, or 0 for any free port") from None
    if port != 0 and not 1024 <= port <= 65535:
        raise ValueError(f"{name}={port} is out of range: use 1024-65535, or 0 for any free port")
    return port


def ministack_port() -> int:
    return _port("LABKIT_PORT", DEFAULT_PORT)


def moto_port() -> int:
    return _port("LABKIT_MOTO_PORT", DEFAULT_MOTO_PORT)


def dns_port() -> int:
    return _port("LABKIT_DNS_PORT", DEFAULT_DNS_PORT)


def localstack_url() -> str:
    return os.environ.get("LABKIT_LOCALSTACK_URL") or DEFAULT_LOCALSTACK_URL
