"""Every lesson is stored clean and has the shape docs/lesson-standard.md asks for."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _source(nb, kind=None):
    return "\n".join(c.source for c in nb.cells if kind is None or c.cell_type == kind)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def nb(request):
    return nbformat.read(request.param, as_version=4)


def test_there_are_lessons():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00-start-here.ipynb"


def test_stored_without_outputs(nb):
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"cells {dirty} have outputs: jupyter nbconvert --clear-output --inplace <notebook>"


def test_valid_with_unique_cell_ids(nb):
    nbformat.validate(nb)
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_lesson_shape(nb):
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \d\d · ", first.source)
    markdown = _source(nb, "markdown")
    for heading in (
        "## Overview",
        "## Connect",
        "## Your turn",
        "## Emulator vs AWS",
        "## Clean up",
        "## Summary",
        "## What's next",
        "## Further reading",
    ):
        assert heading in markdown, f"missing section {heading!r}"
    assert re.search(r"lab = labkit\.connect\(lesson=\"\d\d-", _source(nb, "code"))


def test_every_exercise_is_followed_by_a_check(nb):
    cells = nb.cells
    exercises = [i for i, c in enumerate(cells) if "exercise" in c.metadata.get("tags", [])]
    assert 1 <= len(exercises) <= 3
    for i in exercises:
        assert "checks." in cells[i + 1].source, f"exercise cell {i} has no check cell after it"


def test_no_secrets_account_ids_or_machine_paths(nb):
    text = _source(nb)
    assert not re.search(r"\b(?!000000000000\b)\d{12}\b", text), "an account id?"
    assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an access key?"
    assert not re.search(r"/(root|home|Users)/", text), "a machine path?"
