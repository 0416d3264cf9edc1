"""Lesson 08's exercises: the orders the learner's worker processes, and its deployment package.

The worker is the learner's ``handler.py`` next to the lesson's ``lambdas/orders.py`` (``process(record)``,
which raises ``ValueError`` for a bad order and prints an ``ORDER {json}`` line for every message it sees).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

# Two of the twenty orders are bad: one body is not JSON, one orders a quantity of 0.
BAD_ORDERS = {6: "order A-007, two boxes (not JSON)", 13: json.dumps({"order": "A-014", "quantity": 0})}
ORDERS: list[str] = [
    BAD_ORDERS.get(i, json.dumps({"order": f"A-{i + 1:03d}", "quantity": i % 3 + 1})) for i in range(20)
]


def zip_files(files: dict[str, str]) -> bytes:
    """A deployment package with these files (name → source text) at the root of the zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16  # readable by the runtime's user on AWS
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buf.getvalue()


def worker_package(handler_code: str, orders_module: str | Path = "lambdas/orders.py") -> bytes:
    """The worker's zip: your code as ``handler.py`` (so ``Handler="handler.handler"``) and ``orders.py`` beside it."""
    return zip_files({"handler.py": handler_code, "orders.py": Path(orders_module).read_text()})
