"""Fixtures for unit tests that need the real embedded servers."""

import os

import pytest

import labkit
from labkit.backends import embedded


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
