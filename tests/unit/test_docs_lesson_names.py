"""Every ``--lesson X`` the README and docs/*.md tell a learner to type names a lesson exactly as the registry does.

``labkit cleanup --lesson <slug>`` deletes what carries the tag ``labkit:lesson=<slug>``; a name that is not a
registry slug (an old title, a shortened one) matches nothing, and what the lesson made keeps running and costing.
"""

from __future__ import annotations

import re
from pathlib import Path

from labkit.course.registry import LESSONS

ROOT = Path(__file__).resolve().parents[2]
LESSON_OPTION = re.compile(r"--lesson[ =]+([^\s`'\")|\]]+)")


def _lesson_options() -> list[tuple[str, int, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [(path.name, number, m.group(1)) for m in LESSON_OPTION.finditer(line)]
    return found


def test_the_docs_name_lessons_with_the_registry_slugs():
    slugs = {lesson.slug for lesson in LESSONS}
    wrong = [f"{name}:{line}: --lesson {value}" for name, line, value in _lesson_options() if value not in slugs]
    assert wrong == [], "not a lesson slug (labkit/course/registry.py): " + "; ".join(wrong)


def test_the_docs_do_show_the_option():
    """The test above must look at something: real-aws.md shows cleanup for one lesson."""
    assert any(name == "real-aws.md" for name, _, _ in _lesson_options())


def test_the_pattern_finds_a_wrong_slug():
    line = "labkit cleanup --lesson 07-scaling --dry-run and `--lesson=03-lambda`"
    assert [m.group(1) for m in LESSON_OPTION.finditer(line)] == ["07-scaling", "03-lambda"]
