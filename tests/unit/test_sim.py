"""The scaling simulator against cases worked out by hand; each policy kind keeps AWS's rules
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html,
https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html)."""

import itertools

import numpy as np
import pytest

from labkit.lessons.l07_scaling_with_cloudwatch.sim import (
    SimConfig,
    SimpleRule,
    StepRule,
    TargetTrackingRule,
    arrivals,
    simulate,
)


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


def test_simple_rule_fires_in_the_first_period_whose_average_crosses_1000():
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


def test_simple_rule():
    simple = SimpleRule()
    assert [simple.change(v, 0, 1) for v in (1001, 1000, 99, 500)] == [5, 0, -1, 0]
    # visible alone says "remove"; counting in-flight messages says "keep"
    assert simple.change(50, 200, 4) == -1 and SimpleRule(metric="backlog").change(50, 200, 4) == 0


def test_step_rule_picks_the_step_and_counts_only_booted_instances():
    step = StepRule(high=1000, low=100, out_steps=((0, 2000, 5), (2000, None, 8)), in_steps=((None, 0, -2),))
    assert step.target(1500, 0, desired=1, current=1, booting=0) == 6  # 500 above: +5
    assert step.target(3500, 0, desired=1, current=1, booting=0) == 9  # 2,500 above: +8
    assert step.target(1500, 0, desired=6, current=1, booting=5) == 6  # same step while 5 boot: nothing more
    assert step.target(3500, 0, desired=6, current=1, booting=5) == 9  # larger breach: only the difference
    assert step.target(50, 0, desired=6, current=6, booting=0) == 4
    assert step.target(50, 0, desired=6, current=1, booting=5) == 6  # no scale-in while a scale-out boots


def test_step_rule_has_no_cooldown():
    # 50 msg/s against 20 per instance: a simple rule acts once per 300 s cooldown, a step rule (+1 per
    # breach) every period its alarm still breaches, until the fleet keeps up.
    simple = overload(cooldown_s=300, duration_s=900, max_size=50)
    step = overload(rule=StepRule(out_steps=((0, None, 1),)), cooldown_s=300, duration_s=900, max_size=50)
    assert [t for t, _, _ in simple.actions] == [119, 419, 719]
    assert [(t, new) for t, _, new in step.actions[:4]] == [(119, 2), (179, 3), (239, 4), (299, 5)]


def test_target_tracking_out_at_once_in_after_calm_periods():
    target = TargetTrackingRule(backlog_per_instance=1000, scale_in_after=3)
    assert target.target(5000, 0, desired=2, current=2, booting=0) == 5  # out in one step: 2 × 2,500 / 1,000
    assert target.target(5000, 0, desired=5, current=2, booting=3) == 5  # booting instances do not count
    calm = [(100, 0)] * 3
    assert target.target(100, 0, desired=5, current=5, booting=0, history=calm[:2]) == 5  # not calm long enough
    assert target.target(100, 0, desired=5, current=5, booting=0, history=calm) == 1  # in, rounding up what stays
    assert target.target(2100, 0, desired=5, current=5, booting=0, history=[(2100, 0)] * 3) == 3
    assert TargetTrackingRule(metric="backlog").target(0, 5000, desired=1, current=1, booting=0) == 5


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
