"""The scaling simulator against cases worked out by hand."""

import itertools

import numpy as np
import pytest

from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimConfig, StepRule, TargetTrackingRule, arrivals, simulate


def overload(**overrides):
    """50 msg/s against one instance that clears 20/s (10 slots, 0.5 s per message)."""
    settings = dict(slots=10, job_seconds=0.5, boot_s=0, period_s=60, cooldown_s=0, duration_s=600, initial=1)
    settings.update(overrides)
    config = SimConfig(**settings)
    return simulate(config, arrival=np.full(config.duration_s, 50.0))


def test_under_capacity_nothing_waits_and_nothing_scales():
    config = SimConfig(duration_s=3600, slots=10, job_seconds=0.5)
    result = simulate(config, arrival=np.full(3600, 10.0))
    assert result.actions == []
    assert result.visible.max() == 0 and result.running.max() == 1
    assert result.processed.sum() == pytest.approx(36000)
    assert result.instance_hours == pytest.approx(1.0)


def test_backlog_grows_by_the_difference_each_second():
    result = overload(duration_s=60)
    # second t: backlog 30(t+1), of which 10 are in flight (all slots busy)
    assert result.in_flight[:3].tolist() == [10, 10, 10]
    assert result.visible[:3].tolist() == [20, 50, 80]
    assert result.processed[:3].tolist() == [20, 20, 20]


def test_step_rule_fires_in_the_first_period_whose_average_crosses_1000():
    # period 1 averages 30 × 30.5 − 10 = 905 visible (no action); period 2: 30 × 90.5 − 10 = 2705 → +5
    result = overload()
    assert result.actions[0] == (119, 5, 6)
    assert result.running[119] == 1 and result.running[120] == 6


def test_metric_delay_postpones_the_action_by_whole_periods():
    result = overload(metric_delay_s=60)
    assert result.actions[0] == (179, 5, 6)


def test_boot_time_delays_the_new_instances():
    result = overload(boot_s=30)
    assert result.running[149] == 1 and result.running[150] == 6
    assert result.booting[120] == 5 and result.booting[150] == 0


def test_cooldown_blocks_the_next_action():
    result = overload(cooldown_s=300, duration_s=1200)
    times = [t for t, _, _ in result.actions]
    assert times[0] == 119 and all(b - a >= 300 for a, b in itertools.pairwise(times))


def test_max_size_caps_the_fleet():
    result = overload(max_size=3)
    assert result.actions[0] == (119, 2, 3) and result.running.max() == 3


def test_scale_in_below_100_and_interrupted_jobs():
    config = SimConfig(slots=10, job_seconds=30, boot_s=0, period_s=60, cooldown_s=0, initial=3, duration_s=120)
    result = simulate(config, arrival=np.full(120, 0.5))
    # 0.5 msg/s of 30-second jobs: about 15 in flight, none visible → the rule removes one instance per period
    assert result.actions[0] == (59, -1, 2)
    assert result.interrupted > 0


def test_every_message_is_accounted_for():
    result = simulate(SimConfig(pattern="daily"))
    left = result.visible[-1] + result.in_flight[-1]
    assert result.arrived.sum() == pytest.approx(result.processed.sum() + left)


def test_rules():
    step = StepRule()
    assert (step.change(1001, 0, 1), step.change(1000, 0, 1), step.change(99, 0, 1), step.change(500, 0, 1)) == (
        5,
        0,
        -1,
        0,
    )
    # visible alone says "remove"; counting in-flight messages says "keep"
    assert step.change(50, 200, 4) == -1 and StepRule(metric="backlog").change(50, 200, 4) == 0
    target = TargetTrackingRule(backlog_per_instance=1000)
    assert target.change(5000, 0, 2) == 3  # out in one step
    assert target.change(0, 0, 5) == -1  # in gradually
    assert target.change(1500, 500, 2) == 0


def test_arrival_patterns():
    day = 24 * 3600
    assert arrivals("steady", base_rate=7).tolist() == [7.0] * day
    spike = arrivals("spike", base_rate=1, peak_rate=9)
    assert spike[9 * 3600 - 1] == 1 and spike[9 * 3600] == 9 and spike[10 * 3600] == 1
    wave = arrivals("daily", base_rate=10, peak_rate=110)
    assert wave[3 * 3600] == pytest.approx(10) and wave[15 * 3600] == pytest.approx(110)
    with pytest.raises(ValueError, match="steady, spike or daily"):
        arrivals("weekly")


def test_wait_is_first_in_first_out():
    # 10 messages at second 0, one instance clearing 5 per second: the last of them is done during second 1
    config = SimConfig(slots=5, job_seconds=1, duration_s=5, boot_s=0)
    result = simulate(config, arrival=np.array([10.0, 0, 0, 0, 0]))
    assert result.processed.tolist() == [5, 5, 0, 0, 0]
    assert result.wait_s[0] == 1
