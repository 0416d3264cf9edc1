"""Every lesson ends with its checked questions where the lesson standard says: Summary → Check yourself.

A lesson's questions live in ``labkit/lessons/lNN_slug/questions.py`` (a :class:`labkit.course.quiz.Quiz` of that
lesson's number), its package re-exports them as ``questions``, and the notebook's Summary ends with a
``### Check yourself`` heading followed by a ``questions.show()`` cell, before What's next.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from labkit.course.quiz import Quiz
from labkit.course.registry import LESSONS

ROOT = Path(__file__).resolve().parents[2]
WITH_QUESTIONS = [lesson for lesson in LESSONS if (ROOT / "labkit/lessons" / lesson.package / "questions.py").exists()]


def test_every_lesson_has_its_questions():
    assert [lesson.number for lesson in WITH_QUESTIONS] == [lesson.number for lesson in LESSONS]


@pytest.mark.parametrize("lesson", WITH_QUESTIONS, ids=lambda lesson: lesson.slug)
def test_questions_are_the_lessons_and_end_its_summary(lesson):
    questions = importlib.import_module(lesson.module).questions
    assert isinstance(questions, Quiz) and questions.lesson == lesson.number
    cells = json.loads((ROOT / "notebooks" / lesson.notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    summary = next(i for i, s in enumerate(sources) if s.lstrip().startswith("## Summary"))
    nxt = next(i for i, s in enumerate(sources) if "## What's next" in s)
    check = next(i for i, s in enumerate(sources) if "### Check yourself" in s)
    show = [i for i, s in enumerate(sources) if "questions.show()" in (line.strip() for line in s.splitlines())]
    assert summary <= check < nxt, f"{lesson.notebook}: Check yourself is not inside the Summary"
    assert show == [check + 1] and cells[check + 1]["cell_type"] == "code", f"{lesson.notebook}: questions.show()"
    assert "## What's next" in sources[check + 2], f"{lesson.notebook}: What's next does not follow the questions"
