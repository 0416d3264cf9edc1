"""The queue helpers (labkit.aws, lessons 04 and 05) against in-process moto: DLQ wiring, tally, redrive, throughput."""

from __future__ import annotations

import json

import boto3
import pytest

from labkit.aws.cloudwatch import wait_for_alarm
from labkit.aws.sqs import depth, peek_all, queue_arn, queue_name
from labkit.aws.tally import Tally
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import Event, out_of_order, run_consumers, seq_of
from labkit.lessons.l04_sqs_standard_vs_fifo.throughput import (
    ACTIONS,
    Throughput,
    measure_throughput,
    throughput_chart,
    throughput_table,
)
from labkit.lessons.l05_dead_letter_queues.dlq import create_queue_with_dlq, move_messages
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


def test_create_queue_with_dlq_wires_the_redrive_policy(sqs):
    pair = create_queue_with_dlq(sqs, "orders", max_receive_count=4, attributes={"VisibilityTimeout": "2"})
    assert (pair.name, pair.dlq_name) == ("orders", "orders-dlq")
    attrs = sqs.get_queue_attributes(QueueUrl=pair.url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == pair.dlq_arn == queue_arn(sqs, pair.dlq_url)
    assert int(policy["maxReceiveCount"]) == 4
    assert attrs["VisibilityTimeout"] == "2"
    assert str(pair) == "orders → after 4 receives → orders-dlq"


def test_fifo_queue_gets_a_fifo_dlq(sqs):
    pair = create_queue_with_dlq(sqs, "payments.fifo", fifo=True)
    assert (pair.name, pair.dlq_name) == ("payments.fifo", "payments-dlq.fifo")
    for url in (pair.url, pair.dlq_url):
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"]["FifoQueue"] == "true"


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


def test_move_messages_receive_send_delete_and_tally_follows(sqs):
    dlq = _queue(sqs, "dlq")
    source = _queue(sqs, "source")
    tally = Tally()
    for i in range(12):
        body = f"poison-{i}"
        tally.sent(
            sqs.send_message(
                QueueUrl=dlq, MessageBody=body, MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}}
            ),
            body,
        )
    assert move_messages(sqs, dlq, source, tally=tally) == 12
    assert depth(sqs, dlq) == (0, 0)
    moved = peek_all(sqs, source)
    assert sorted(m["Body"] for m in moved) == sorted(f"poison-{i}" for i in range(12))
    assert all("n" in m["MessageAttributes"] for m in moved)
    report = tally.reconcile(sqs, {"source": source, "dlq": dlq})
    assert report.ok and report.in_queues == {"source": 12}


def test_move_messages_into_a_fifo_queue_keeps_the_group(sqs):
    dlq = _queue(sqs, "d.fifo", FifoQueue="true")
    source = _queue(sqs, "s.fifo", FifoQueue="true")
    sqs.send_message(QueueUrl=dlq, MessageBody="x", MessageGroupId="cust-1", MessageDeduplicationId="x")
    assert move_messages(sqs, dlq, source) == 1
    m = sqs.receive_message(QueueUrl=source, MessageSystemAttributeNames=["MessageGroupId"])["Messages"][0]
    assert m["Attributes"]["MessageGroupId"] == "cust-1"


def test_run_consumers_handles_each_message_once(sqs):
    url = _queue(sqs, "jobs")
    tally = Tally()
    for i in range(1, 9):
        tally.sent(sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}"), f"job-{i}")
    events = run_consumers(sqs, url, consumers=3, expected=8, work=lambda body: 0.01, tally=tally)
    assert sorted(e.seq for e in events) == list(range(1, 9))
    assert [e.end for e in events] == sorted(e.end for e in events)
    assert all(e.group == "queue" and e.end >= e.start for e in events)
    assert tally.reconcile(sqs, {"jobs": url}).processed == 8


def test_out_of_order_is_per_group():
    def ev(group, seq, end):
        return Event(consumer=1, body=f"{group}-{seq}", group=group, seq=seq, start=0.0, end=end)

    events = [ev("a", 2, 0.1), ev("b", 1, 0.15), ev("a", 1, 0.2), ev("b", 2, 0.3)]
    assert [(e.group, e.seq) for e in out_of_order(events)] == [("a", 1)]
    assert seq_of("order-12") == 12 and seq_of("no number") == -1


@pytest.mark.parametrize("fifo", [False, True])
def test_measure_throughput_moves_every_message(sqs, fifo):
    url = _queue(sqs, "bench.fifo", FifoQueue="true") if fifo else _queue(sqs, "bench")
    tally = Tally()
    single = measure_throughput(sqs, url, 12, batch=False, tally=tally)
    batched = measure_throughput(sqs, url, 25, batch=True, tally=tally)
    assert (single.queue, single.mode) == ("FIFO" if fifo else "standard", "single")
    assert batched.mode == "batch of 10" and batched.calls["send"] == 3 and single.calls["send"] == 12
    assert all(single.rate(a) > 0 for a in ACTIONS)
    assert depth(sqs, url) == (0, 0)
    report = tally.reconcile(sqs, {"bench": url})
    assert report.ok and report.processed == report.distinct == 37
    table = throughput_table([single, batched])
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
