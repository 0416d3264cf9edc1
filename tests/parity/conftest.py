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


@pytest.fixture(scope="session")
def lab():
    return labkit.connect(show=False)


@pytest.fixture
def unique():
    """A short random suffix for resource names, so tests never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def dynamodb_available(lab):
    """Skip, with the probe's reason, where DynamoDB cannot create tables (LocalStack without its Java download)."""
    from labkit.probes import dynamodb_serves

    reason = dynamodb_serves()
    if reason:
        pytest.skip(reason)
