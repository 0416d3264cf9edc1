"""The invocation timeline: state logic without a browser, and the slider view over a fake runner."""

from __future__ import annotations

import itertools

from labkit.widgets.timeline import Invocation, Timeline, TimelineView, message_range, plot_timeline, png_bytes


def inv(start: float, end: float, n: int = 1, failed: int = 0, rid: str = "") -> Invocation:
    messages = tuple(f"m{start}-{i}" for i in range(n))
    return Invocation(rid or f"r{start}", 100 + start, 100 + end, messages, failed=messages[:failed])


def test_empty_timeline():
    empty = Timeline()
    assert empty.peak_concurrency == 0 and empty.duration == 0 and empty.slots() == []
    assert empty.summary() == "no invocations recorded"


def test_peak_concurrency_counts_overlap_not_back_to_back():
    back_to_back = Timeline([inv(0, 1), inv(1, 2), inv(2, 3)])
    assert back_to_back.peak_concurrency == 1
    overlapping = Timeline([inv(0, 2), inv(0.5, 1.5), inv(1, 3), inv(2.5, 4)])
    assert overlapping.peak_concurrency == 3
    assert overlapping.concurrency_steps()[0] == (0.0, 1)
    assert overlapping.concurrency_steps()[-1] == (4.0, 0)


def test_slots_never_overlap_and_use_as_many_rows_as_peak():
    timeline = Timeline([inv(0, 2), inv(0.5, 1.5), inv(1.6, 3), inv(2.1, 2.5), inv(0.2, 0.4)])
    rows = timeline.slots()
    assert max(rows) + 1 == timeline.peak_concurrency
    for row in set(rows):
        spans = sorted((i.start, i.end) for i, r in zip(timeline.invocations, rows, strict=True) if r == row)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_summary_states_settings_batches_and_concurrency():
    timeline = Timeline([inv(0, 1, n=5), inv(0, 1, n=5), inv(1, 1.5, n=2)], batch_size=5, max_concurrency=2, sent=12)
    assert timeline.message_count == 12 and timeline.batch_sizes == [5, 5, 2]
    assert timeline.summary() == (
        "BatchSize 5, MaximumConcurrency 2: 12 messages in 3 invocations (batch sizes 2–5), at most 2 at once, 1.5 s"
    )
    assert str(timeline) == timeline.summary()


def test_message_range_labels_numbered_batches_only():
    assert message_range(("order-007", "order-005", "order-006")) == "005–007"
    assert message_range(("r1a2b3-012",)) == "012"
    assert message_range(("order-001", "hello")) == ""
    assert message_range(()) == ""


def test_plot_renders_png_with_failed_batches():
    timeline = Timeline([inv(0, 1, n=3, failed=1), inv(0.2, 0.8, n=2)], batch_size=3, max_concurrency=2)
    assert timeline.summary().endswith("; 1 with failed messages")
    data = png_bytes(plot_timeline(timeline))
    assert data.startswith(b"\x89PNG") and len(data) > 5_000
    assert png_bytes(plot_timeline(Timeline())).startswith(b"\x89PNG")


class FakeRunner:
    """Stands in for a real experiment: batches of the requested size, `max_concurrency` at a time."""

    def __init__(self, messages: int = 12):
        self.messages = messages
        self.calls: list[tuple[int, int]] = []

    def __call__(self, batch_size: int, max_concurrency: int) -> Timeline:
        self.calls.append((batch_size, max_concurrency))
        rows, left, k = [], self.messages, 0
        while left > 0:
            size = min(batch_size, left)
            wave = k // max_concurrency
            rows.append(inv(wave, wave + 1, n=size, rid=str(k)))
            left -= size
            k += 1
        return Timeline(rows, batch_size=batch_size, max_concurrency=max_concurrency, sent=self.messages)


def test_view_runs_on_slider_release_and_updates_image_and_summary():
    runner = FakeRunner()
    view = TimelineView(runner, batch_size=4, max_concurrency=2)
    assert runner.calls == []  # nothing runs until displayed or moved
    assert view.batch_size.continuous_update is False and view.max_concurrency.continuous_update is False
    view.batch_size.value = 6
    assert runner.calls == [(6, 2)]
    assert bytes(view.image.value).startswith(b"\x89PNG")
    assert view.summary() == "BatchSize 6, MaximumConcurrency 2: 12 messages in 2 invocations " + (
        "(batch sizes 6–6), at most 2 at once, 1.0 s"
    )
    view.max_concurrency.value = 3
    assert runner.calls[-1] == (6, 3) and len(view.history) == 2


def test_view_run_from_code_prints_one_line_and_runs_once(capsys):
    runner = FakeRunner()
    view = TimelineView(runner, batch_size=4, max_concurrency=2)
    timeline = view.run(batch_size=3, max_concurrency=4)
    assert runner.calls == [(3, 4)]
    assert timeline.peak_concurrency == 4
    assert capsys.readouterr().out.strip() == timeline.summary()
    view.run()  # nothing changed: no new experiment
    assert runner.calls == [(3, 4)]


def test_view_survives_a_failing_experiment():
    def broken(batch_size, max_concurrency):
        raise TimeoutError("the handler did not log all 30 messages in 60 s")

    view = TimelineView(broken)
    assert view.refresh().invocations == []
    assert view.status.value.startswith("experiment failed: TimeoutError")


def test_slider_ranges_follow_the_aws_limits_the_lesson_can_show():
    view = TimelineView(FakeRunner())
    assert (view.batch_size.min, view.batch_size.max) == (1, 10)
    assert (view.max_concurrency.min, view.max_concurrency.max) == (2, 10)  # AWS refuses MaximumConcurrency < 2
