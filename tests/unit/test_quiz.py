"""The end-of-lesson questions: a right answer gets ✓ and its reason, a wrong one never gives the answer away."""

import pytest

from labkit.course.quiz import Question, Quiz

Q = [
    Question("Two plus two?", ["3", "4", "5"], answer=1, why="Two pairs make four."),
    Question("Colour of the sky on a clear day?", ["blue", "green"], answer=0, why="Air scatters blue light most."),
    Question("Which is a queue service?", ["S3", "SQS", "EC2"], answer=1, why="SQS is Simple Queue Service."),
]


def test_answers_are_checked_one_line_each(capsys):
    score = Quiz("99", Q).answer("b", "b", "")
    out = capsys.readouterr().out.splitlines()
    assert (score.right, score.total) == (1, 3)
    assert out[0] == "1. ✓ Two pairs make four."
    assert out[1].startswith("2. ✗ not yet") and "blue" not in out[1]
    assert out[2] == "3. … not answered yet"
    assert out[3] == "1/3 right"


def test_all_right_says_so(capsys):
    assert Quiz("99", Q).answer("B", "a", "b").right == 3
    assert capsys.readouterr().out.splitlines()[-1] == "3/3 right — well done."


def test_a_letter_outside_the_options_is_named(capsys):
    assert Quiz("99", Q).answer("z", "a", "b").right == 2
    assert "'z' is not one of a, b, c" in capsys.readouterr().out


def test_text_lists_every_option_with_its_letter():
    text = Quiz("99", Q).text()
    assert "1. Two plus two?\n   a) 3\n   b) 4\n   c) 5" in text
    assert "questions.answer(" in text


def test_the_widget_checks_the_chosen_option():
    widget = Quiz("99", Q).widget()
    first = widget.children[0]
    choices, (button, feedback) = first.children[1], first.children[2].children
    button.click()
    assert "not answered" in feedback.value
    choices.value = 0
    button.click()
    assert feedback.value.startswith("✗")
    choices.value = 1
    button.click()
    assert feedback.value == "✓ Two pairs make four."


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Quiz("99", Q[:2]), "3 to 5"),
        (lambda: Question("q", ["a"], 0, "w"), "2 or more"),
        (lambda: Question("q", ["a", "a"], 0, "w"), "the same"),
        (lambda: Question("q", ["a", "b"], 2, "w"), "not one of"),
        (lambda: Question("q", ["a", "b"], 0, " "), "a `why`"),
    ],
)
def test_badly_written_questions_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()
