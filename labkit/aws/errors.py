"""The one way labkit reads an AWS error code out of a botocore exception."""

from __future__ import annotations

import botocore.exceptions


def error_code(err: BaseException, default: str = "error") -> str:
    """AWS's error code (``QueueDoesNotExist``, ``AccessDenied``, ...) of a ``ClientError``, else ``default``."""
    if isinstance(err, botocore.exceptions.ClientError):
        return str(err.response.get("Error", {}).get("Code") or default)
    return default
