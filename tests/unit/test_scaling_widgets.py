"""Lesson 07's widgets, without a browser: state objects, and views that redraw on change."""

import pytest

from labkit.lessons.l07_scaling_with_cloudwatch.history import PressureHistory
from labkit.lessons.l07_scaling_with_cloudwatch.pressure import PressureGauge
from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimpleRule, StepRule, TargetTrackingRule
from labkit.lessons.l07_scaling_with_cloudwatch.simulator import SimulatorState, SimulatorView

PNG = b"\x89PNG\r\n\x1a\n"


def test_state_builds_the_rule_the_knobs_describe():
    state = SimulatorState()
    assert state.config().rule == SimpleRule(high=1000, low=100, scale_out=5)
    state.run(watch_in_flight=True, high=2000)
    assert state.config().rule.metric == "backlog" and state.config().rule.high == 2000
    state.run(rule="step", watch_in_flight=False)
    assert state.config().rule == StepRule(
        high=2000, low=100, out_steps=((0, 2000, 5), (2000, None, 10)), in_steps=((None, 0, -1),)
    )
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
    assert "simple scaling" in view.summary.value
    view.controls["rule"].value = "step"
    assert "step scaling" in view.summary.value


def test_pressure_history_and_gauge():
    history = PressureHistory()
    gauge = PressureGauge(history, high=1000, low=100)
    assert history.summary() == "no samples yet"
    history.add(0.5, 3000, 10, 1, 1, 1, 0, 0)
    history.add(1.0, 2500, 60, 6, 6, 1, 5, 440)
    history.add(1.5, 50, 0, 6, 6, 6, 0, 3000)
    gauge.refresh()
    assert bytes(gauge.image.value).startswith(PNG)
    assert "50 visible" in gauge.label.value and "desired 6" in gauge.label.value and "peak 3,000" in gauge.label.value
    assert history.above(1000) == [True, True, False] and history.below(100) == [False, False, True]


def test_the_gauge_draws_a_history_caught_between_two_appends():
    """The sampler thread appends a sample's series one after another; a redraw in between must not fail."""
    history = PressureHistory()
    gauge = PressureGauge(history, high=1000, low=100)
    history.add(0.5, 3000, 10, 1, 1, 1, 0, 0)
    history.t.append(1.0)  # the next sample, half added: only its time so far
    history.visible.append(2900)
    gauge.refresh()
    assert bytes(gauge.image.value).startswith(PNG)
    snap = history.snapshot()
    assert len(snap) == 1 and snap.visible == [3000] and len(history) == 2
