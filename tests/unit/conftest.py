"""Fixtures for unit tests: in-process moto, or the real embedded servers."""

import os

import pytest
from moto import mock_aws

import labkit
from labkit.backends import embedded


@pytest.fixture
def moto_env(monkeypatch):
    """In-process moto with fake credentials, and no endpoint setting that would send calls elsewhere."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def embedded_lab(monkeypatch, tmp_path):
    """Private embedded servers on free ports, this process connected to them; all undone afterwards."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    before = set(os.environ)
    yield labkit.connect(show=False)
    for name in set(os.environ) - before:
        del os.environ[name]
    embedded.stop()
