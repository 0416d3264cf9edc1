"""SQS behaviours lessons 04 (standard vs FIFO) and 05 (dead-letter queues) rely on, asserted with plain boto3."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import boto3
import botocore.exceptions
import pytest


@pytest.fixture
def sqs(lab):
    return boto3.client("sqs")


@pytest.fixture
def made(sqs):
    """Queue URLs a test created; deleted afterwards."""
    urls: list[str] = []
    yield urls
    for url in urls:
        with contextlib.suppress(botocore.exceptions.ClientError):
            sqs.delete_queue(QueueUrl=url)


def _create(sqs, made, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    made.append(url)
    return url


def _fifo(sqs, made, name, **attributes):
    return _create(sqs, made, f"{name}.fifo", FifoQueue="true", **attributes)


def _code(err: botocore.exceptions.ClientError) -> str:
    return err.response["Error"]["Code"]


def _arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _visible(sqs, url) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


# ---------------------------------------------------------------- FIFO rules


def test_fifo_queue_name_must_end_in_fifo(sqs, unique):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.create_queue(QueueName=f"parity-{unique}", Attributes={"FifoQueue": "true"})
    assert _code(err.value) == "InvalidParameterValue"


def test_fifo_send_needs_a_message_group(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-group-{unique}")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="x")
    assert _code(err.value) == "MissingParameter"


def test_fifo_group_is_blocked_while_a_message_is_in_flight(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-block-{unique}")
    for n in (1, 2):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=url, MessageBody=f"{group}-{n}", MessageGroupId=group, MessageDeduplicationId=f"{group}{n}"
            )
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30)["Messages"]
    assert [m["Body"] for m in first] == ["a-1"]
    others = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
    assert "a-2" not in [m["Body"] for m in others]
    for m in first + others:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert "a-2" in [m["Body"] for m in others + rest]


def test_fifo_keeps_group_order_with_two_concurrent_consumers(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-order-{unique}")
    for n in range(1, 6):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=url, MessageBody=f"{group}-{n}", MessageGroupId=group, MessageDeduplicationId=f"{group}{n}"
            )
    done: list[tuple[str, int, int]] = []  # group, seq, consumer
    lock = threading.Lock()

    def consumer(number: int) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if len(done) >= 10:
                    return
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=20).get("Messages", [])
            if not got:
                time.sleep(0.02)
                continue
            group, seq = got[0]["Body"].split("-")
            time.sleep(0.03 if number == 1 else 0.07)  # unequal work, so the consumers interleave
            with lock:
                done.append((group, int(seq), number))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    threads = [threading.Thread(target=consumer, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    assert len(done) == 10
    for group in ("a", "b"):
        assert [seq for g, seq, _ in done if g == group] == [1, 2, 3, 4, 5]
    assert {consumer for *_, consumer in done} == {1, 2}


def test_fifo_deduplication_id_drops_repeats_within_the_window(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-dedup-{unique}")
    first = sqs.send_message(QueueUrl=url, MessageBody="pay 7", MessageGroupId="g", MessageDeduplicationId="inv-7")
    again = sqs.send_message(QueueUrl=url, MessageBody="pay 7", MessageGroupId="g", MessageDeduplicationId="inv-7")
    other_body = sqs.send_message(
        QueueUrl=url, MessageBody="pay 7.00", MessageGroupId="g", MessageDeduplicationId="inv-7"
    )
    assert first["MessageId"] == again["MessageId"] == other_body["MessageId"]
    assert _visible(sqs, url) == 1
    # The window counts from the first send: still deduplicated after the message was received and deleted.
    m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    after = sqs.send_message(QueueUrl=url, MessageBody="pay 7", MessageGroupId="g", MessageDeduplicationId="inv-7")
    assert after["MessageId"] == first["MessageId"]
    assert _visible(sqs, url) == 0


def test_fifo_content_based_deduplication(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-content-{unique}", ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=url, MessageBody="receipt 7", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="receipt 7", MessageGroupId="g")
    c = sqs.send_message(QueueUrl=url, MessageBody="receipt 8", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    assert _visible(sqs, url) == 2


def test_fifo_without_dedup_id_or_content_dedup_is_refused(sqs, made, unique):
    url = _fifo(sqs, made, f"parity-nodedup-{unique}")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert _code(err.value) == "InvalidParameterValue"


# ---------------------------------------------------------------- visibility, receive counts, DLQ


def test_visibility_timeout_redelivers_with_rising_receive_count(sqs, made, unique):
    url = _create(sqs, made, f"parity-vis-{unique}", VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="slow work")
    counts, times = [], []
    t0 = time.monotonic()
    for _ in range(3):
        m = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=3, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"][0]
        counts.append(int(m["Attributes"]["ApproximateReceiveCount"]))
        times.append(time.monotonic() - t0)
    assert counts == [1, 2, 3]
    # A long poll that started while the message was invisible returns it once the timeout runs out.
    assert 0.8 <= times[1] - times[0] <= 2.5
    assert 0.8 <= times[2] - times[1] <= 2.5


def test_message_moves_to_dlq_after_max_receive_count(sqs, made, unique):
    dlq = _create(sqs, made, f"parity-dlq-{unique}")
    redrive = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": "2"})
    source = _create(sqs, made, f"parity-src-{unique}", VisibilityTimeout=1, RedrivePolicy=redrive)
    assert json.loads(
        sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )["maxReceiveCount"] in (2, "2")
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    counts = []
    for _ in range(4):
        got = sqs.receive_message(
            QueueUrl=source, WaitTimeSeconds=2, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        ).get("Messages", [])
        if not got:
            break
        counts.append(int(got[0]["Attributes"]["ApproximateReceiveCount"]))
    assert counts == [1, 2]
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2, MessageSystemAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]
    assert moved[0]["MessageId"] == sent["MessageId"]
    assert moved[0]["Attributes"].get("DeadLetterQueueSourceArn") == _arn(sqs, source)


def test_without_redrive_policy_a_poison_message_is_received_again_and_again(sqs, made, unique):
    url = _create(sqs, made, f"parity-forever-{unique}", VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    counts = []
    for _ in range(4):
        m = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=3, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"][0]
        counts.append(int(m["Attributes"]["ApproximateReceiveCount"]))
    assert counts == [1, 2, 3, 4]


# ---------------------------------------------------------------- batches


def test_batch_of_ten_is_the_limit(sqs, made, unique):
    url = _create(sqs, made, f"parity-batch-{unique}")
    ok = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    assert len(ok["Successful"]) == 10 and not ok.get("Failed")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(11)])
    assert _code(err.value).endswith("TooManyEntriesInBatchRequest")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "a"}, {"Id": "1", "MessageBody": "b"}])
    assert _code(err.value).endswith("BatchEntryIdsNotDistinct")
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    got: list[dict] = []
    for _ in range(5):
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if len(got) >= 10:
            break
    assert len(got) == 10
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(deleted["Successful"]) == 10
    assert _visible(sqs, url) == 0


# ---------------------------------------------------------------- DLQ alarm (lesson 05)


def test_alarm_on_published_depth_notifies_sns_subscribed_queue(lab, sqs, made, unique):
    """An alarm on a queue-depth metric > 0 goes to ALARM and its SNS topic delivers to a subscribed queue.

    The data point is put by the test (as labkit does on emulators), under a namespace of its own.
    """
    sns = boto3.client("sns")
    cloudwatch = boto3.client("cloudwatch")
    topic = sns.create_topic(Name=f"parity-alarm-{unique}")["TopicArn"]
    inbox = _create(sqs, made, f"parity-inbox-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=_arn(sqs, inbox))
    alarm = f"parity-dlq-depth-{unique}"
    namespace = f"Labkit/Parity/{unique}"
    try:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace=namespace,
            MetricName="ApproximateNumberOfMessagesVisible",
            Statistic="Maximum",
            # Emulators evaluate short periods (LocalStack: once per period), AWS/SQS metrics need 60 s.
            Period=60 if lab.backend == "aws" else 10,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[topic],
        )
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=[{"MetricName": "ApproximateNumberOfMessagesVisible", "Value": 1.0}]
        )
        deadline = time.monotonic() + (600 if lab.backend == "aws" else 30)
        state = None
        while time.monotonic() < deadline:
            state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
            if state == "ALARM":
                break
            time.sleep(0.5)
        assert state == "ALARM"
        notes = []
        while time.monotonic() < deadline and not notes:
            notes = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=2).get("Messages", [])
        envelope = json.loads(notes[0]["Body"])
        assert json.loads(envelope["Message"])["NewStateValue"] == "ALARM"
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])
        sns.delete_topic(TopicArn=topic)
