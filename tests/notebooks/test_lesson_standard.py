"""Every lesson has the sections docs/lesson-standard.md lists, in its order.

The required headings are read from the ```headings block of that document, so the document and
this test cannot drift apart: change the block and every lesson is checked against the new list.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parents[2]
STANDARD = ROOT / "docs" / "lesson-standard.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))

TITLE, CONNECT, YOUR_TURN, EMULATOR_VS_AWS, FURTHER_READING = (
    "# NN · <title>",
    "## Connect",
    "## Your turn",
    "## Emulator vs AWS",
    "## Further reading",
)
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def required_headings(text: str) -> list[str]:
    """The lines of the document's ```headings block, in order."""
    block = re.search(r"^```headings\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, f"{STANDARD.name} has no ```headings block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


REQUIRED = required_headings(STANDARD.read_text(encoding="utf-8"))


def pattern(required: str) -> re.Pattern[str]:
    """`NN` is the lesson number, `<…>` any text; the rest is matched exactly."""
    parts = re.split(r"(NN|<[^>]*>)", required)
    regex = "".join(r"(?P<number>\d\d)" if p == "NN" else ".+" if p.startswith("<") else re.escape(p) for p in parts)
    return re.compile(regex + r"\s*$")


PATTERNS = {required: pattern(required) for required in REQUIRED}


@dataclass(frozen=True)
class Heading:
    text: str
    level: int
    cell: int
    line: int


def headings(nb) -> list[Heading]:
    """Markdown headings in document order (lines inside fenced code blocks are not headings)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for n, line in enumerate(cell.source.splitlines()):
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced and (m := re.match(r"(#{1,6}) \S", line)):
                found.append(Heading(line.strip(), len(m.group(1)), i, n))
    return found


def find(nb, required: str) -> list[Heading]:
    return [h for h in headings(nb) if PATTERNS[required].match(h.text)]


def the(nb, name: str, required: str) -> Heading:
    """The one heading matching `required`, or a failure naming the notebook and the heading."""
    hits = find(nb, required)
    if len(hits) != 1:
        pytest.fail(f"{name}: {required!r} should appear once, found {len(hits)}")
    return hits[0]


def section(nb, heading: Heading) -> tuple[str, list[str]]:
    """(markdown text, code cell sources) from a heading to the next heading of the same or a higher level."""
    after = [h for h in headings(nb) if (h.cell, h.line) > (heading.cell, heading.line) and h.level <= heading.level]
    end = (after[0].cell, after[0].line) if after else (len(nb.cells), 0)
    markdown, code = [], []
    for i in range(heading.cell, min(end[0] + 1, len(nb.cells))):
        cell = nb.cells[i]
        if cell.cell_type == "code":
            if i < end[0]:
                code.append(cell.source)
            continue
        lines = cell.source.splitlines()
        first = heading.line + 1 if i == heading.cell else 0
        last = end[1] if i == end[0] else len(lines)
        markdown.extend(lines[first:last])
    return "\n".join(markdown), code


def order_problems(nb, name: str) -> list[str]:
    """Each required heading once, in the standard's order; after Your turn, no other top-level heading."""
    problems, positions = [], {}
    for required in REQUIRED:
        hits = find(nb, required)
        if len(hits) != 1:
            where = ", ".join(f"cell {h.cell}" for h in hits)
            problems.append(
                f"{name}: {required!r} should appear once, found {len(hits)}" + (f" ({where})" if hits else "")
            )
        if hits:
            positions[required] = (hits[0].cell, hits[0].line)
    present = [r for r in REQUIRED if r in positions]
    for before, after in itertools.pairwise(present):
        if positions[after] < positions[before]:
            problems.append(
                f"{name}: {after!r} (cell {positions[after][0]}) comes before {before!r} "
                f"(cell {positions[before][0]}); the order is in {STANDARD.relative_to(ROOT)}"
            )
    if YOUR_TURN in positions:
        tail = [h for h in headings(nb) if h.level <= 2 and (h.cell, h.line) > positions[YOUR_TURN]]
        for h in tail:
            if not any(PATTERNS[r].match(h.text) for r in REQUIRED):
                problems.append(
                    f"{name}: {h.text!r} (cell {h.cell}) is after {YOUR_TURN!r}, where only the standard's sections go"
                )
    return problems


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def lesson(request) -> tuple[object, str]:
    return nbformat.read(request.param, as_version=4), request.param.name


def test_the_standard_lists_the_headings():
    assert REQUIRED[0] == TITLE, f"{STANDARD.name}: the first required heading is the title, {TITLE!r}"
    for required in (CONNECT, YOUR_TURN, EMULATOR_VS_AWS, FURTHER_READING):
        assert required in REQUIRED, (
            f"{STANDARD.name}: the ```headings block lost {required!r}, which this test relies on"
        )
    assert len(set(REQUIRED)) == len(REQUIRED)


def test_required_headings_once_and_in_order(lesson):
    nb, name = lesson
    problems = order_problems(nb, name)
    assert not problems, "\n".join(problems)


def test_first_cell_is_the_title_with_the_files_number(lesson):
    nb, name = lesson
    first = nb.cells[0]
    title = first.source.splitlines()[0] if first.source else ""
    match = PATTERNS[TITLE].match(title)
    assert first.cell_type == "markdown" and match, f"{name}: the first cell should start with {TITLE!r}, not {title!r}"
    assert match.group("number") == name[:2], f"{name}: the title says lesson {match.group('number')}"


def test_connect_section_calls_labkit_connect(lesson):
    nb, name = lesson
    heading = the(nb, name, CONNECT)
    _, code = section(nb, heading)
    assert any("labkit.connect(" in source for source in code), (
        f"{name}: no code cell under {CONNECT!r} calls labkit.connect("
    )


def test_exercises_sit_in_your_turn(lesson):
    nb, name = lesson
    start, end = the(nb, name, YOUR_TURN), the(nb, name, EMULATOR_VS_AWS)
    exercises = [i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", [])]
    outside = [i for i in exercises if not start.cell < i < end.cell]
    assert outside == [], f"{name}: exercise cells {outside} are not between {YOUR_TURN!r} and {EMULATOR_VS_AWS!r}"


def test_emulator_vs_aws_has_a_table(lesson):
    nb, name = lesson
    heading = the(nb, name, EMULATOR_VS_AWS)
    markdown, _ = section(nb, heading)
    assert any(TABLE_RULE.match(line) for line in markdown.splitlines()), (
        f"{name}: {EMULATOR_VS_AWS!r} has no markdown table"
    )


def test_further_reading_links_the_aws_documentation(lesson):
    nb, name = lesson
    heading = the(nb, name, FURTHER_READING)
    markdown, _ = section(nb, heading)
    assert "https://docs.aws.amazon.com/" in markdown, f"{name}: {FURTHER_READING!r} links no docs.aws.amazon.com page"


def _cells_of(nb, required: str) -> range:
    """The cells of a section that starts a cell of its own and ends where the next cell-starting heading is."""
    (heading,) = find(nb, required)
    assert heading.line == 0, f"the test needs {required!r} to start its cell"
    starts = [h.cell for h in headings(nb) if h.level <= heading.level and h.line == 0 and h.cell > heading.cell]
    return range(heading.cell, starts[0] if starts else len(nb.cells))


def test_swapped_sections_are_reported():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    overview, connect = _cells_of(nb, "## Overview"), _cells_of(nb, CONNECT)
    swapped = copy.deepcopy(nb)
    cells = nb.cells
    swapped.cells = (
        cells[: overview.start]
        + cells[connect.start : connect.stop]
        + cells[overview.stop : connect.start]
        + cells[overview.start : overview.stop]
        + cells[connect.stop :]
    )
    problems = order_problems(swapped, "swapped.ipynb")
    assert any("swapped.ipynb" in p and "'## Connect'" in p and "'## Overview'" in p for p in problems), problems


def test_a_missing_and_a_doubled_heading_are_reported():
    nb = copy.deepcopy(nbformat.read(NOTEBOOKS[0], as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("## Clean up", "## Tidy up").replace(
                "## Summary", "## Summary\n\n## Summary"
            )
    problems = order_problems(nb, "broken.ipynb")
    assert any("'## Clean up' should appear once, found 0" in p for p in problems), problems
    assert any("'## Summary' should appear once, found 2" in p for p in problems), problems
    assert any("'## Tidy up'" in p and "after '## Your turn'" in p for p in problems), problems
