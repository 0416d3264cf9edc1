"""Parity tests: the AWS behaviours lessons rely on, asserted with plain boto3.

They run on whichever backend LABKIT_BACKEND names (embedded by default; the
root conftest gives the embedded servers a private home and free ports).
A behaviour a backend cannot provide is skipped with the reason, found by
probing the backend, never by a hard-coded list.
"""

from __future__ import annotations

import uuid

import pytest

import labkit


@pytest.fixture(scope="module")
def lab():
    # Per test file: the root conftest gives each file the environment the session started with.
    return labkit.connect(show=False)


@pytest.fixture
def unique():
    """A short random suffix for resource names, so tests never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def requires(lab):
    """``requires("name")`` skips the test, with the probe's one-line reason, where this backend lacks
    capability ``name`` (a key of ``labkit.backends.probes.PROBES``). Each probe runs once per run and endpoint."""
    from labkit.backends.probes import missing

    def require(name: str) -> None:
        reason = missing(name)
        if reason:  # reported at the test's line, as a skip mark would be
            raise pytest.skip.Exception(reason, _use_item_location=True)

    return require


@pytest.fixture
def dynamodb_available(requires):
    """Skip, with the probe's reason, where DynamoDB cannot create tables (LocalStack without its Java download)."""
    requires("dynamodb")
