"""The notebooks' own code for tests: a lesson's top-level functions and constants, read from its cells.

Tests run the lesson's loops and checks as the learner sees them (``ast`` of the code cells), never a copy.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"


def lesson_definitions(notebook: str, *names: str, **namespace: object) -> dict:
    """The top-level definitions of ``names`` (functions, assigned constants) in ``notebooks/<notebook>``, run in
    ``namespace`` (what their cells use; json, time, base64, hashlib and hmac are there already)."""
    path = NOTEBOOKS / notebook
    found: dict[str, ast.stmt] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found[node.name] = node
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in names:
                found[node.targets[0].id] = node  # type: ignore[attr-defined]
    assert set(found) == set(names), f"{notebook} no longer defines {set(names) - set(found)}"
    scope: dict = {"base64": base64, "hashlib": hashlib, "hmac": hmac, "json": json, "time": time, **namespace}
    exec(compile(ast.Module(body=[found[n] for n in names], type_ignores=[]), str(path), "exec"), scope)
    return scope
