"""Student versions of the lessons: one source (the solved notebooks), exercise code blanked.

Each lesson in ``notebooks/`` is written solved. An exercise is a code cell tagged ``exercise``
whose learner part starts at a line ``# ✏️ Your ...`` and ends at ``# ✏️ (end of your code)``
or at the end of the cell. The student version keeps everything else and replaces that part:

- by the cell's ``metadata.labkit.student`` text when the author wrote one (a starting point
  that runs but does not pass the check, e.g. the starting scaling rule in lesson 07);
- otherwise by ``name = None`` for each name the solution assigns at top level, so the check
  cell after it and the cells that use the name still run (checks print a hint, never raise).

Learners' work is never overwritten: an existing student notebook is kept unless ``force``.
"""

from __future__ import annotations

import ast
import copy
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START = "# ✏️ Your"
END = "# ✏️ (end of your code)"
FOLDERS = ("lambdas", "capstone")  # files the lessons read next to them: handlers, lesson 12's stack and tests
BANNER = (
    "> **Student version.** The exercise cells (✏️) are blank: write your code there, then run the check "
    "cell under each one. The solved lesson is `../{name}`. Regenerating never overwrites this file "
    "unless you ask (`labkit student --force`)."
)


@dataclass
class Written:
    """What one run of :func:`write_student_versions` did."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def assigned_names(code: str) -> list[str]:
    """Public names the code assigns at top level (plain, annotated, augmented, tuple targets), in order."""
    names: list[str] = []

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name) and not target.id.startswith("_") and target.id not in names:
            names.append(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                add(element)

    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            add(node.target)
    return names


def blank_exercise(source: str, student: str | None = None) -> str:
    """The exercise cell's source with the learner part replaced (see the module docstring)."""
    lines = source.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(START))
    except StopIteration:
        raise ValueError(f"an exercise cell needs a line starting with {START!r}") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith(END)), len(lines))
    solution = "\n".join(lines[start + 1 : end])
    if student is None:
        student = "\n".join(f"{name} = None" for name in assigned_names(solution))
    middle = [student] if student else []
    return "\n".join([*lines[: start + 1], *middle, *lines[end:]]).rstrip("\n")


def student_notebook(notebook: dict[str, Any], solved_name: str) -> dict[str, Any]:
    """A student copy of a solved notebook (nbformat JSON as a dict): exercises blanked, no outputs."""
    nb = copy.deepcopy(notebook)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if "exercise" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            student = cell["metadata"].get("labkit", {}).get("student")
            cell["source"] = blank_exercise(source, "".join(student) if isinstance(student, list) else student)
    banner = {
        "cell_type": "markdown",
        "id": "student-version",
        "metadata": {},
        "source": BANNER.format(name=solved_name),
    }
    nb["cells"].insert(1, banner)
    return nb


def write_student_versions(notebooks: Path, out: Path, force: bool = False) -> Written:
    """Write ``out/NN-*.ipynb`` for each lesson in ``notebooks``, and copy the lessons' files (``FOLDERS``)."""
    out.mkdir(parents=True, exist_ok=True)
    done = Written()
    for path in sorted(notebooks.glob("[0-9][0-9]-*.ipynb")):
        target = out / path.name
        if target.exists() and not force:
            done.kept.append(target)
            continue
        nb = student_notebook(json.loads(path.read_text()), path.name)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        done.written.append(target)
    for folder in FOLDERS:
        if (notebooks / folder).is_dir():
            shutil.copytree(notebooks / folder, out / folder, dirs_exist_ok=True)
    return done
