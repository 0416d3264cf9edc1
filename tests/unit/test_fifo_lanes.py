"""FIFO lanes: the state object's logic, the chart, and the view's sliders, without a browser."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest

from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import Event, run_consumers
from labkit.lessons.l04_sqs_standard_vs_fifo.fifo_lanes import (
    FifoLanesView,
    LanesState,
    draw,
    png,
    work_time,
)


def ev(group, seq, consumer, start, end):
    return Event(consumer=consumer, body=f"{group}-{seq}", group=group, seq=seq, start=start, end=end)


@pytest.fixture
def fifo_state():
    # Two groups processed in parallel by two consumers, each group in order.
    return LanesState(
        groups=2,
        consumers=2,
        events=[ev("A", 1, 1, 0.0, 0.1), ev("B", 1, 2, 0.0, 0.15), ev("A", 2, 2, 0.15, 0.3), ev("B", 2, 1, 0.15, 0.2)],
    )


def test_lanes_group_events_by_message_group_in_start_order(fifo_state):
    lanes = fifo_state.lanes()
    assert list(lanes) == ["A", "B"]
    assert [e.seq for e in lanes["A"]] == [1, 2]


def test_in_order_state_has_no_late_messages(fifo_state):
    assert fifo_state.in_order
    assert fifo_state.late() == []


def test_a_message_finishing_after_a_later_one_is_late():
    state = LanesState(1, 2, [ev("queue", 1, 1, 0.0, 0.3), ev("queue", 2, 2, 0.0, 0.1), ev("queue", 3, 2, 0.1, 0.2)])
    assert not state.in_order
    assert [e.seq for e in state.late()] == [1]


def test_parallel_groups_and_consumers(fifo_state):
    assert fifo_state.max_parallel_groups() == 2
    assert fifo_state.consumers_used() == {1: 2, 2: 2}
    one_at_a_time = LanesState(2, 1, [ev("A", 1, 1, 0.0, 0.1), ev("B", 1, 1, 0.1, 0.2)])
    assert one_at_a_time.max_parallel_groups() == 1


def test_summary_is_one_line_with_the_facts(fifo_state):
    line = fifo_state.summary()
    assert "\n" not in line
    assert "4 messages in 2 group(s) by 2 consumer(s)" in line
    assert "every group in send order" in line
    assert "up to 2 group(s) in progress at once" in line
    assert LanesState(1, 1).summary().endswith("no messages processed")


def test_png_is_a_png(fifo_state):
    assert png(fifo_state).startswith(b"\x89PNG")


def test_single_group_is_drawn_one_row_per_consumer():
    state = LanesState(1, 2, [ev("queue", 1, 1, 0.0, 0.3), ev("queue", 2, 2, 0.0, 0.1)], title="standard queue")
    ax = draw(state).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["consumer 1", "consumer 2"]
    assert "finish order 2 1" in ax.get_title()


def test_work_time_varies_between_messages():
    times = {work_time(f"A-{n}") for n in range(1, 9)}
    assert len(times) > 2
    assert all(0.04 <= t <= 0.16 for t in times)


def test_view_reruns_the_experiment_when_a_slider_moves():
    calls = []

    def experiment(groups, consumers):
        calls.append((groups, consumers))
        events = [ev("ABCDE"[g], 1, 1 + g % consumers, 0.0, 0.1) for g in range(groups)]
        return LanesState(groups, consumers, events)

    view = FifoLanesView(experiment, groups=3, consumers=2)
    assert calls == [(3, 2)]
    assert bytes(view.image.value).startswith(b"\x89PNG")
    assert view.label.value == view.state.summary()
    assert not view.groups.continuous_update and not view.consumers.continuous_update
    view.groups.value = 4
    view.consumers.value = 1
    assert calls == [(3, 2), (4, 2), (4, 1)]
    assert view.state.groups == 4 and view.state.consumers == 1
    assert "by 1 consumer(s)" in view.label.value


@pytest.fixture
def sqs(moto_env):
    yield boto3.client("sqs", region_name="us-east-1")


def _consumer(sqs, queue_url, log):
    """The notebook's consumer: one message at a time, asking for its group."""
    while log.running:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageSystemAttributeNames=["MessageGroupId"]
        ).get("Messages", [])
        for m in got:
            started = log.clock()
            time.sleep(0.01)
            log.record(m, started)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _send_in_groups(sqs, url, groups, per_group):
    """The notebook's sends: A-1, B-1, A-2, ... with deduplication ids new in every run."""
    run = uuid.uuid4().hex[:8]
    for n in range(1, per_group + 1):
        for g in "ABCDE"[:groups]:
            body = f"{g}-{n}"
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=g, MessageDeduplicationId=f"{run}-{body}")


def test_the_notebooks_consumer_on_a_fifo_queue_keeps_each_group_in_order(sqs):
    url = sqs.create_queue(QueueName="lanes.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    _send_in_groups(sqs, url, groups=2, per_group=3)
    state = LanesState(2, 2, run_consumers(_consumer, sqs, url, consumers=2, expected=6))
    assert len(state.events) == 6
    assert state.in_order
    assert sorted(e.body for e in state.events) == ["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"]
    assert {e.group for e in state.events} == {"A", "B"}  # the consumer asked for MessageGroupId
    # The same queue can run again at once: the deduplication ids are new in every run.
    _send_in_groups(sqs, url, groups=1, per_group=2)
    again = run_consumers(_consumer, sqs, url, consumers=1, expected=2)
    assert [e.body for e in again] == ["A-1", "A-2"]
