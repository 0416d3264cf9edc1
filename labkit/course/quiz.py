"""The short checked questions that end every lesson ("Check yourself", in its Summary).

A lesson keeps its questions in ``labkit/lessons/lNN_slug/questions.py``::

    QUESTIONS = Quiz("04", [
        Question(
            "A FIFO consumer crashed after receiving a message of group A. What happens to group A?",
            ["Its next messages are delivered to other consumers at once",
             "It waits until the message is deleted or its visibility timeout ends",
             "SQS moves the message to the DLQ"],
            answer=1,
            why="Within a group SQS delivers nothing more until the in-flight message is deleted or visible again.",
        ),
        ...
    ])

and the notebook's last section shows them with ``questions.show()``: in JupyterLab one set of
options and a Check button per question (✓ with the reason, or "not yet" without giving the answer
away); everywhere (nbval, a terminal, a reader without widgets) the questions also print as text,
and ``questions.answer("b", "a", ...)`` checks them from code, one line each.

Nothing here talks to AWS, and like the exercise checks nothing raises on a wrong answer.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Question", "Quiz", "Score"]

LETTERS = string.ascii_lowercase
MIN_QUESTIONS, MAX_QUESTIONS = 3, 5


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: ``answer`` is the index of the right option in ``options``."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    why: str

    def __init__(self, prompt: str, options: Sequence[str], answer: int, why: str) -> None:
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "options", tuple(options))
        object.__setattr__(self, "answer", answer)
        object.__setattr__(self, "why", why)
        if not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"{prompt!r}: give 2 or more options")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"{prompt!r}: two options are the same")
        if not 0 <= answer < len(self.options):
            raise ValueError(f"{prompt!r}: answer {answer} is not one of the {len(self.options)} options")
        if not prompt.strip() or not why.strip():
            raise ValueError("a question needs a prompt and a `why`")

    def verdict(self, choice: int | None) -> str:
        """The one line a learner sees for ``choice`` (an option index, or None for no answer)."""
        if choice is None:
            return "… not answered yet"
        if choice == self.answer:
            return f"✓ {self.why}"
        return "✗ not yet: read the question again and try another option"


@dataclass(frozen=True)
class Score:
    right: int
    total: int

    def __str__(self) -> str:
        return f"{self.right}/{self.total} right"


class Quiz:
    """A lesson's 3–5 questions: ``show()`` them, ``answer(...)`` them from code."""

    def __init__(self, lesson: str, questions: Sequence[Question]) -> None:
        if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
            raise ValueError(f"lesson {lesson}: {len(questions)} questions; a lesson ends with 3 to 5")
        self.lesson = lesson
        self.questions = tuple(questions)

    def __len__(self) -> int:
        return len(self.questions)

    def text(self) -> str:
        """The questions as plain text, with lettered options."""
        lines = []
        for n, q in enumerate(self.questions, 1):
            lines.append(f"{n}. {q.prompt}")
            lines.extend(f"   {LETTERS[i]}) {option}" for i, option in enumerate(q.options))
        example = ", ".join(f'"{LETTERS[0]}"' for _ in self.questions)
        lines.append(f"Answer with the buttons above, or in a cell: questions.answer({example}) (one letter each).")
        return "\n".join(lines)

    def answer(self, *letters: str) -> Score:
        """Check one letter per question (in order; "" skips one) and print a line for each."""
        right = 0
        for n, q in enumerate(self.questions, 1):
            given = letters[n - 1].strip().lower() if n <= len(letters) else ""
            choice: int | None = None
            if given:
                if len(given) != 1 or LETTERS.find(given) not in range(len(q.options)):
                    print(f"{n}. ✗ {given!r} is not one of {', '.join(LETTERS[: len(q.options)])}")
                    continue
                choice = LETTERS.index(given)
            right += choice == q.answer
            print(f"{n}. {q.verdict(choice)}")
        score = Score(right, len(self.questions))
        print(f"{score}" + (" — well done." if right == len(self.questions) else ""))
        return score

    def show(self) -> None:
        """The questions as widgets (in JupyterLab) and as text (everywhere)."""
        try:
            from IPython.display import display

            render: Any = display  # IPython ships no types
            render(self.widget())
        except ImportError:  # no widgets here: the text below is the whole quiz
            pass
        print(self.text())

    def widget(self) -> Any:
        """An ``ipywidgets.VBox``: per question, its options, a Check button and the verdict."""
        import ipywidgets as w

        rows = []
        for n, q in enumerate(self.questions, 1):
            choices = w.RadioButtons(
                options=[(f"{LETTERS[i]}) {o}", i) for i, o in enumerate(q.options)],
                value=None,
                layout=w.Layout(width="auto"),
            )
            button = w.Button(description="Check", layout=w.Layout(width="6em"))
            feedback = w.HTML()

            def check(_button: Any, q: Question = q, choices: Any = choices, feedback: Any = feedback) -> None:
                feedback.value = _escape(q.verdict(choices.value))

            button.on_click(check)
            rows.append(w.VBox([w.HTML(f"<b>{n}. {_escape(q.prompt)}</b>"), choices, w.HBox([button, feedback])]))
        return w.VBox(rows)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
