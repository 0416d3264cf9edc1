"""The error tree drawn in labkit/errors.py's docstring is exactly the classes it defines, parent by parent."""

from __future__ import annotations

import inspect
import re

from labkit import errors


def _drawn(doc: str) -> dict[str, str | None]:
    """Each class in the drawing (the indented block), mapped to the class it hangs under (None: the root)."""
    parents: dict[str, str | None] = {}
    by_depth: dict[int, str] = {}
    for line in doc.split("\n\n")[1].splitlines():
        match = re.search(r"[A-Z]\w*", line)
        assert match, line
        depth = (match.start() - 4) // 4
        parents[match.group()] = by_depth.get(depth - 1)
        by_depth[depth] = match.group()
    return parents


def _defined() -> dict[str, str | None]:
    classes = [
        cls
        for cls in vars(errors).values()
        if inspect.isclass(cls) and issubclass(cls, errors.LabkitError) and cls.__module__ == errors.__name__
    ]
    return {c.__name__: (None if c is errors.LabkitError else c.__bases__[0].__name__) for c in classes}


def test_the_drawing_matches_the_classes():
    assert _drawn(errors.__doc__ or "") == _defined()


def test_a_wrong_parent_in_the_drawing_is_seen():
    doc = "title\n\n    LabkitError\n    ├── A        x\n    │   └── B    y\n    └── C        z\n\nend"
    assert _drawn(doc) == {"LabkitError": None, "A": "LabkitError", "B": "A", "C": "LabkitError"}
