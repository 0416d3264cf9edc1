"""Checks never raise for a learner, and fail loudly when the suite runs the solved lessons."""

import pytest

from labkit.course.checks import CheckFailed, check, hint, passed


@check
def _always_wrong():
    return hint("the queue is empty")


@check
def _crashes():
    raise KeyError("Messages")


def test_a_hint_is_printed_and_falsy(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    result = _always_wrong()
    assert not result and "✗ not yet: the queue is empty" in capsys.readouterr().out


def test_an_error_inside_a_check_becomes_a_hint(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    assert not _crashes()
    assert "KeyError" in capsys.readouterr().out


def test_passed_is_truthy(capsys):
    assert passed("all good") and "✓ all good" in capsys.readouterr().out


def test_the_test_suite_makes_hints_fail(monkeypatch):
    monkeypatch.setenv("LABKIT_CHECKS_MUST_PASS", "1")
    with pytest.raises(CheckFailed, match="the queue is empty"):
        _always_wrong()


def test_an_exercise_left_blank_gets_its_own_hint_and_the_check_body_never_runs(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    calls = []

    @check
    def _queue_exists(queue_name, expected=1):
        calls.append(queue_name)
        return passed("found")

    assert not _queue_exists(None)
    assert "nothing to check yet (queue_name is None)" in capsys.readouterr().out
    assert not _queue_exists("q", expected=None) and calls == []
    assert _queue_exists("q") and calls == ["q"]
