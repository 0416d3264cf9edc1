"""Lesson 07's widgets, without a browser: state objects, and views that redraw on change."""

import pytest

from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory
from labkit.lessons.l07_scaling_with_cloudwatch.pressure import PressureGauge
from labkit.lessons.l07_scaling_with_cloudwatch.sim import StepRule, TargetTrackingRule
from labkit.lessons.l07_scaling_with_cloudwatch.simulator import SimulatorState, SimulatorView

PNG = b"\x89PNG\r\n\x1a\n"


def test_state_builds_the_rule_the_knobs_describe():
    state = SimulatorState()
    assert state.config().rule == StepRule(high=1000, low=100, scale_out=5)
    state.run(watch_in_flight=True, high=2000)
    assert state.config().rule.metric == "backlog" and state.config().rule.high == 2000
    state.run(rule="target", target_backlog=600)
    assert state.config().rule == TargetTrackingRule(backlog_per_instance=600)
    with pytest.raises(AttributeError, match="no setting 'colour'"):
        state.run(colour="red")


def test_changing_a_knob_changes_the_result():
    state = SimulatorState()
    slow = state.run(boot_s=600)
    fast = state.run(boot_s=0)
    assert slow.visible.max() > fast.visible.max()


def test_a_slider_change_redraws_the_view():
    view = SimulatorView()
    before_image, before_line = view.image.value, view.summary.value
    assert bytes(before_image).startswith(PNG)
    view.controls["pattern"].value = "daily"
    assert view.state.pattern == "daily"
    assert bytes(view.image.value) != bytes(before_image) and view.summary.value != before_line
    assert "step rule" in view.summary.value


def test_pressure_history_and_gauge():
    history = PressureHistory()
    gauge = PressureGauge(history, high=1000, low=100, alarms=("high", "low"))
    assert history.summary() == "no samples yet"
    history.add(0.5, 3000, 10, 1, 0, 1, {"high": "OK", "low": "OK"}, 0)
    history.add(1.0, 2500, 60, 1, 5, 6, {"high": "ALARM", "low": "OK"}, 440)
    gauge.refresh()
    assert bytes(gauge.image.value).startswith(PNG)
    assert "2,500 visible" in gauge.label.value and "high ALARM" in gauge.label.value
    assert history.in_alarm("high") == [False, True]


def test_the_gauge_draws_a_history_caught_between_two_appends():
    """The sampler thread appends a sample's series one after another; a redraw in between must not fail."""
    history = PressureHistory()
    gauge = PressureGauge(history, high=1000, low=100, alarms=("high", "low"))
    history.add(0.5, 3000, 10, 1, 0, 1, {"high": "ALARM", "low": "OK"}, 0)
    history.t.append(1.0)  # the next sample, half added: only its time so far
    history.visible.append(2900)
    gauge.refresh()
    assert bytes(gauge.image.value).startswith(PNG)
    snap = history.snapshot()
    assert len(snap) == 1 and snap.visible == [3000] and len(history) == 2
