"""The student versions: generated from the solved lessons, they run top to bottom, and every check prints a hint.

nbval runs the solved lessons (every check must print ✓). Here each lesson's student version is
generated into a temporary folder and executed in a real kernel on a fresh embedded backend, with
LABKIT_CHECKS_MUST_PASS unset, as a learner's kernel would be: no cell may raise, and the check
after each blanked exercise must print a hint (or say the backend lacks the service), never ✓.
A ✓ there would mean the check passes without the learner's code: a check that cannot fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.course.checks import UNAVAILABLE_PREFIX
from labkit.course.student import blank_exercise, write_student_versions

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
HINT = "✗ not yet"

embedded_only = pytest.mark.skipif(
    os.environ.get("LABKIT_BACKEND", "embedded") not in ("", "embedded"),
    reason="student versions are run on the embedded backend",
)


def test_blanking_keeps_the_names_later_cells_use():
    source = "x = 1\n# ✏️ Your code here: make a queue.\nname, url = 'q', make()\n_ = send(url)\ncount += 1\nprint(url)"
    assert blank_exercise(source) == "x = 1\n# ✏️ Your code here: make a queue.\nname = None\nurl = None\ncount = None"


def test_blanking_stops_at_the_end_marker_and_honours_the_authors_stub():
    source = "# ✏️ Your code here:\nsolve()\n# ✏️ (end of your code) then:\nreport()"
    assert blank_exercise(source) == "# ✏️ Your code here:\n# ✏️ (end of your code) then:\nreport()"
    stub = blank_exercise(source, "start = 1")
    assert stub == "# ✏️ Your code here:\nstart = 1\n# ✏️ (end of your code) then:\nreport()"


def test_an_exercise_without_the_marker_is_an_error():
    with pytest.raises(ValueError, match="✏️ Your"):
        blank_exercise("solve()")


def test_regenerating_keeps_a_learners_work(tmp_path):
    first = write_student_versions(NOTEBOOKS, tmp_path)
    assert [p.name for p in first.written] == LESSONS
    assert (tmp_path / "lambdas" / "hello.py").is_file()
    mine = tmp_path / LESSONS[0]
    mine.write_text(mine.read_text().replace("Student version", "Student version, with my notes"))
    again = write_student_versions(NOTEBOOKS, tmp_path)
    assert again.written == [] and mine in again.kept
    assert "with my notes" in mine.read_text()
    forced = write_student_versions(NOTEBOOKS, tmp_path, force=True)
    assert mine in forced.written and "with my notes" not in mine.read_text()


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    write_student_versions(NOTEBOOKS, out)
    return out


def _check_cells(nb) -> list:
    cells = nb.cells
    return [cells[i + 1] for i, cell in enumerate(cells) if "exercise" in cell.metadata.get("tags", [])]


@embedded_only
@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_student_version_runs_and_every_check_prints_a_hint(lesson, student_dir, monkeypatch):
    import labkit
    from labkit.backends import embedded, probes

    labkit.connect(show=False)
    for requirement in probes.lesson_requirements(NOTEBOOKS / lesson):
        reason = probes.missing(requirement)
        if reason:
            pytest.skip(reason)
    _, started = embedded.ensure_running()
    if not started:
        embedded.reset()
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)

    nb = nbformat.read(student_dir / lesson, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(student_dir)}})
    try:
        client.execute()
    except CellExecutionError as err:
        failed = next(c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        pytest.fail(f"the student version of {lesson} stopped at {failed.source[:200]!r}: {err.ename}: {err.evalue}")

    checks = _check_cells(nb)
    assert checks, f"{lesson} has no exercises"
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "✓" not in printed, f"{cell.source!r} passed with the exercise blank: {printed}"
        assert HINT in printed or UNAVAILABLE_PREFIX in printed, f"{cell.source!r} printed no hint: {printed!r}"
