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
the default). A region must be one that botocore's partition data lists (its
``partitions.json``: every region of every AWS partition), so a typo is refused at
once instead of failing at the first call.

Embedded backend: its state (pid, ports, versions, logs) lives in
``LABKIT_HOME`` (default ``~/.cache/labkit``); MiniStack listens on
``LABKIT_PORT`` (default 4600) and moto on ``LABKIT_MOTO_PORT`` (default 4601), and the
DNS server that answers Route 53's zones on ``LABKIT_DNS_PORT`` (default 4653, UDP and TCP),
all on 127.0.0.1; a port of ``0`` means any free port. ``writable_home()`` makes
``LABKIT_HOME`` (or says, in one line, why it cannot).

Every bad value is an ``InvalidSetting`` (a ``ValueError`` too) whose one line says what to use.
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from pathlib import Path

from labkit.errors import InvalidSetting, UnknownBackend

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


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's partition data (``partitions.json``)."""
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("partitions")
    return frozenset(name for partition in data["partitions"] for name in partition["regions"])


def check_region(value: str, source: str) -> str:
    """``value`` if it names a region, else an InvalidSetting that says where it came from and what to use."""
    name = value.strip()
    if name not in known_regions():
        raise InvalidSetting(
            f"{source}={value!r} is not an AWS region: use one such as us-east-1 or eu-west-1 "
            "(https://docs.aws.amazon.com/general/latest/gr/rande.html)"
        )
    return name


def region() -> str:
    for name in ("LABKIT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name, "").strip():
            return check_region(os.environ[name], name)
    return DEFAULT_REGION


def home() -> Path:
    return Path(os.environ.get("LABKIT_HOME") or Path.home() / ".cache" / "labkit")


def writable_home() -> Path:
    """``home()``, made if missing; an InvalidSetting if it cannot be made or written."""
    path = home()
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as err:
        raise InvalidSetting(
            f"LABKIT_HOME={str(path)!r} cannot be used ({err.strerror or err}): "
            "set LABKIT_HOME to a folder you can write, or unset it for ~/.cache/labkit"
        ) from None
    return path


def check_port(value: int, what: str, lowest: int = 1) -> int:
    """``value`` if it is 0 (any free port) or a port from ``lowest`` to 65535, else an InvalidSetting."""
    if value != 0 and not lowest <= value <= 65535:
        raise InvalidSetting(f"{what} {value} is out of range: use {lowest}-65535, or 0 for any free port")
    return value


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        port = int(raw)
    except ValueError:
        raise InvalidSetting(f"{name}={raw!r} is not a port number: use 1024-65535, or 0 for any free port") from None
    if port != 0 and not 1024 <= port <= 65535:
        raise InvalidSetting(f"{name}={port} is out of range: use 1024-65535, or 0 for any free port")
    return port


def ministack_port() -> int:
    return _port("LABKIT_PORT", DEFAULT_PORT)


def moto_port() -> int:
    return _port("LABKIT_MOTO_PORT", DEFAULT_MOTO_PORT)


def dns_port() -> int:
    return _port("LABKIT_DNS_PORT", DEFAULT_DNS_PORT)


def localstack_url() -> str:
    """``LABKIT_LOCALSTACK_URL`` (an http(s) URL with a host), else LocalStack's default on this machine."""
    raw = os.environ.get("LABKIT_LOCALSTACK_URL", "").strip()
    if not raw:
        return DEFAULT_LOCALSTACK_URL
    try:
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError for a port that is no number or out of range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSetting(
            f"LABKIT_LOCALSTACK_URL={raw!r} is not a URL LocalStack can answer at: "
            f"use one such as {DEFAULT_LOCALSTACK_URL}"
        )
    return raw
