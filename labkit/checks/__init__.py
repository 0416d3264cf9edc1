"""Self-checks for the exercises: one module per lesson, e.g. ``labkit.checks.start_here``.

A check inspects the real backend state, prints ✓ or a specific hint, and
returns a truthy or falsy ``Result``. It never raises, so a notebook with blank
exercises still runs top to bottom. Modules load on first use.
"""

from __future__ import annotations

import importlib


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"labkit.checks.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"labkit.checks has no module {name!r}") from None
