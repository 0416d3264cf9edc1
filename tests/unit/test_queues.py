"""The queue helpers (labkit.aws, lessons 04 and 05) against in-process moto: tally, redrive by hand, throughput."""

from __future__ import annotations

import time

import boto3
import pytest

from labkit.aws.cloudwatch import wait_for_alarm
from labkit.aws.sqs import depth, peek_all, queue_name
from labkit.aws.tally import Tally
from labkit.errors import WorkerFailed
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import Event, out_of_order, run_consumers, seq_of
from labkit.lessons.l04_sqs_standard_vs_fifo.throughput import ACTIONS, Throughput, throughput_chart, throughput_table
from labkit.lessons.l05_dead_letter_queues.retries import Attempt, retry_chart


@pytest.fixture
def sqs(moto_env):
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def cloudwatch(moto_env):
    return boto3.client("cloudwatch", region_name="us-east-1")


def _queue(sqs, name, **attrs):
    return sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]


def test_queue_name_is_the_end_of_the_url():
    assert queue_name("http://127.0.0.1:4566/000000000000/orders.fifo") == "orders.fifo"


def test_peek_all_looks_without_consuming(sqs):
    url = _queue(sqs, "peek")
    for i in range(13):
        sqs.send_message(QueueUrl=url, MessageBody=f"m-{i}")
    assert sorted(m["Body"] for m in peek_all(sqs, url)) == sorted(f"m-{i}" for i in range(13))
    assert depth(sqs, url) == (13, 0)


def test_tally_accounts_for_processed_queued_and_deduplicated(sqs):
    url = _queue(sqs, "work")
    tally = Tally()
    for body in ("a", "b", "c"):
        tally.sent(sqs.send_message(QueueUrl=url, MessageBody=body), body)
    tally.sent(
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "d"}, {"Id": "2", "MessageBody": "e"}])
    )
    # A FIFO queue answers a deduplicated send with the original's MessageId (tests/parity checks the real
    # backend does; moto mints a new id), so the tally counts it once.
    pay = sqs.send_message(QueueUrl=url, MessageBody="pay")
    tally.sent(pay, "pay")
    tally.sent({"MessageId": pay["MessageId"]}, "pay")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    for m in got:
        tally.done(m)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    tally.done(got[0])  # handled twice (a redelivery)
    report = tally.reconcile(sqs, {"work": url})
    assert report.ok
    assert (report.send_calls, report.distinct, report.deduplicated) == (7, 6, 1)
    assert (report.processed, report.processed_twice) == (2, 1)
    assert report.in_queues == {"work": 4}
    assert "1 dropped by FIFO deduplication" in str(report) and "lost 0" in str(report)
    assert depth(sqs, url)[0] == 4  # reconcile consumed nothing


def test_tally_reports_a_message_that_vanished(sqs):
    url = _queue(sqs, "leaky")
    tally = Tally()
    tally.sent(sqs.send_message(QueueUrl=url, MessageBody="gone"), "gone")
    m = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])  # deleted without being processed
    report = tally.reconcile(sqs, {"leaky": url})
    assert not report.ok
    assert report.missing == ["gone"]
    assert "lost 1: gone" in str(report)


def test_tally_follows_a_redrive_by_hand_it_is_told_about(sqs):
    """Lesson 05's receive → send → delete redrive tells the tally each message's new id."""
    dlq = _queue(sqs, "dlq")
    source = _queue(sqs, "source")
    tally = Tally()
    for i in range(3):
        tally.sent(sqs.send_message(QueueUrl=dlq, MessageBody=f"poison-{i}"), f"poison-{i}")
    for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]:
        tally.moved(m["MessageId"], sqs.send_message(QueueUrl=source, MessageBody=m["Body"])["MessageId"])
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    for m in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]:
        tally.done(m)
        sqs.delete_message(QueueUrl=source, ReceiptHandle=m["ReceiptHandle"])
    report = tally.reconcile(sqs, {"source": source, "dlq": dlq}, settle=0)
    assert report.ok and report.processed == 3 and report.processed_twice == 0


def _notebook_consumer(sqs, queue_url, log):
    """Lesson 04's consumer cell: receive → work → record → delete, while the log says so."""
    while log.running:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            started = log.clock()
            time.sleep(0.01)
            log.record(m, started)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_run_consumers_runs_the_notebooks_consumer_once_per_thread(sqs):
    url = _queue(sqs, "jobs")
    tally = Tally()
    for i in range(1, 9):
        tally.sent(sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}"), f"job-{i}")
    events = run_consumers(_notebook_consumer, sqs, url, consumers=3, expected=8, tally=tally)
    assert sorted(e.seq for e in events) == list(range(1, 9))
    assert [e.end for e in events] == sorted(e.end for e in events)
    assert all(e.group == "queue" and e.end >= e.start and e.consumer in (1, 2, 3) for e in events)
    assert tally.reconcile(sqs, {"jobs": url}).processed == 8


def test_run_consumers_raises_a_consumers_error_and_stops_at_its_deadline(sqs):
    url = _queue(sqs, "jobs")

    def broken(sqs, queue_url, log):
        raise KeyError("MessageGroupId")

    with pytest.raises(WorkerFailed, match=r"consumer [12] raised KeyError: 'MessageGroupId'") as err:
        run_consumers(broken, sqs, url, consumers=2, expected=1)
    assert isinstance(err.value.__cause__, KeyError)
    t = time.monotonic()
    assert run_consumers(_notebook_consumer, sqs, url, consumers=2, expected=1, timeout=0.5) == []
    assert time.monotonic() - t < 3  # log.running turned False at the deadline, though nothing came


def test_out_of_order_is_per_group():
    def ev(group, seq, end):
        return Event(consumer=1, body=f"{group}-{seq}", group=group, seq=seq, start=0.0, end=end)

    events = [ev("a", 2, 0.1), ev("b", 1, 0.15), ev("a", 1, 0.2), ev("b", 2, 0.3)]
    assert [(e.group, e.seq) for e in out_of_order(events)] == [("a", 1)]
    assert seq_of("order-12") == 12 and seq_of("no number") == -1


def test_throughput_adds_up_the_time_of_each_timed_call():
    result = Throughput("standard", "batch of 10", 25)
    assert result.seconds == dict.fromkeys(ACTIONS, 0.0)
    for _ in range(2):
        with result.timing("send"):
            time.sleep(0.02)
    assert 0.04 <= result.seconds["send"] < 0.5 and result.seconds["receive"] == 0.0
    assert result.calls["send"] == 3 and result.rate("send") == pytest.approx(25 / result.seconds["send"])
    assert result.rate("delete") == float("inf")  # never timed
    with pytest.raises(ValueError, match="send, receive, delete"), result.timing("purge"):
        pass
    single = Throughput("standard", "single", 25, dict.fromkeys(ACTIONS, 1.0))
    table = throughput_table([single, result])
    assert "batch/single" in table and table.count("\n") == 3


def test_throughput_chart_marks_aws_fifo_quotas():
    results = [
        Throughput("FIFO", "single", 100, dict.fromkeys(ACTIONS, 0.2)),
        Throughput("FIFO", "batch of 10", 100, dict.fromkeys(ACTIONS, 0.02)),
    ]
    fig = throughput_chart(results)
    ax = fig.axes[0]
    assert "10× faster" in ax.get_title()
    assert {round(line.get_ydata()[0]) for line in ax.get_lines()} == {300, 3000}


def test_wait_for_alarm_returns_when_the_state_is_reached(cloudwatch):
    cloudwatch.put_metric_alarm(
        AlarmName="a",
        Namespace="N",
        MetricName="M",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="test")
    assert wait_for_alarm(cloudwatch, "a", timeout=2, progress=False)["StateValue"] == "ALARM"
    assert wait_for_alarm(cloudwatch, "a", "OK", timeout=0.6, progress=False)["StateValue"] == "ALARM"


def test_tally_follows_a_message_that_came_back_under_a_new_id(sqs):
    dlq = _queue(sqs, "dlq")
    source = _queue(sqs, "source")
    tally = Tally()
    tally.sent(sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "lamp"}'), '{"item": "lamp"}')
    # Moved by hand without telling the tally (as a backend's own move task might): a new MessageId.
    m = sqs.receive_message(QueueUrl=dlq)["Messages"][0]
    sqs.send_message(QueueUrl=source, MessageBody=m["Body"])
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    assert tally.reconcile(sqs, {"source": source}).in_queues == {"source": 1}
    moved = sqs.receive_message(QueueUrl=source)["Messages"][0]
    assert moved["MessageId"] != m["MessageId"]
    tally.done(moved)
    report = tally.reconcile(sqs, {"source": source, "dlq": dlq}, settle=0)
    assert report.ok and report.processed == 1 and report.in_queues == {}


def test_retry_chart_marks_the_dlq_only_where_there_is_one():
    attempts = [
        Attempt(0.0, "good", 1, True),
        Attempt(0.0, "bad", 1, False),
        Attempt(1.0, "bad", 2, False),
    ]
    fig = retry_chart({"with": attempts, "without": attempts}, max_receive_count=2, without_dlq=["without"])
    with_ax, without_ax = fig.axes
    assert any("→ DLQ" in t.get_text() for t in with_ax.texts)
    assert not any("→ DLQ" in t.get_text() for t in without_ax.texts)
    assert any("maxReceiveCount = 2" in t.get_text() for t in with_ax.texts)
    assert any("1 handled on the first receive" in t.get_text() for t in with_ax.texts)
