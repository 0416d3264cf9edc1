"""Lesson 07's fleet against the embedded backend: one consumer per InService instance, the lesson's own
consumer function, every message accounted for; and the gauge's sampler reading CloudWatch.

The scaling itself (alarms running policies, target tracking) is the backend's: tests/unit/test_fillers.py.
"""

import json
import time
import uuid

import boto3
import pytest

from labkit.aws.tally import Tally
from labkit.lessons.l07_scaling_with_cloudwatch import Fleet, LiveRun
from labkit.lessons.l07_scaling_with_cloudwatch.live import latest, metric_queries


@pytest.fixture
def group(embedded_lab, make_scaling_group):
    name = f"g-{uuid.uuid4().hex[:6]}"
    make_scaling_group(name, max_size=10)
    return name


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def consume(queue_url, handle, keep_going):
    """The lesson's consumer loop."""
    sqs = boto3.client("sqs")
    while keep_going():
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            handle(message)
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def test_fleet_runs_the_consumer_once_per_instance_and_every_message_is_accounted_for(group):
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{group}-work")["QueueUrl"]
    tally = Tally()
    for start in range(0, 200, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"job": start + i})} for i in range(10)]
        tally.sent(sqs.send_message_batch(QueueUrl=queue_url, Entries=entries))
    fleet = Fleet(group, queue_url, consume, tally.done, boot_s=0).start()
    try:
        assert _wait_for(lambda: fleet.counts() == (1, 0))
        boto3.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
        assert _wait_for(lambda: fleet.counts()[0] == 3), "consumers did not follow the group"
        assert _wait_for(lambda: len(tally.processed) == 200)
        boto3.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
        assert _wait_for(lambda: fleet.counts()[0] == 1), "a removed instance's consumer did not stop"
    finally:
        fleet.stop()
    assert fleet.errors == []
    report = tally.reconcile(sqs, {"work": queue_url})
    assert report.ok and report.processed == 200 and report.processed_twice == 0


def test_a_consumer_that_raises_is_reported(group):
    queue_url = boto3.client("sqs").create_queue(QueueName=f"{group}-broken")["QueueUrl"]

    def broken(queue_url, handle, keep_going):
        raise RuntimeError("no queue here")

    fleet = Fleet(group, queue_url, broken, print, boot_s=0, restart_after_s=0.05, max_restarts=2).start()
    try:
        assert _wait_for(lambda: fleet.down)  # restarted twice, then left down
        [instance] = fleet.down
        assert fleet.errors == [f"{instance}: RuntimeError: no queue here"] * 3 and fleet.restarts == 2
        assert fleet.counts() == (0, 0)  # a consumer that is down is not counted as working
        assert "3 failures" in fleet.summary() and f"down: {instance}" in fleet.summary()
    finally:
        fleet.stop()


def test_the_sampler_reads_the_queue_and_the_group_from_cloudwatch(group):
    """The gauge's numbers are the AWS/SQS and AWS/AutoScaling metrics the backend publishes."""
    sqs, autoscaling = boto3.client("sqs"), boto3.client("autoscaling")
    name = f"{group}-gauge"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    autoscaling.enable_metrics_collection(
        AutoScalingGroupName=group, Granularity="1Minute", Metrics=["GroupDesiredCapacity", "GroupInServiceInstances"]
    )
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(7)])
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    fleet = Fleet(group, url, lambda *_: None, print, boot_s=60)  # consumers that never start
    run = LiveRun(name, group, fleet, processed=lambda: 0, period=1, sample_every=0.2).start()
    try:
        assert _wait_for(lambda: len(run.history) and run.history.visible[-1] == 7 and run.history.desired[-1] == 2)
    finally:
        run.stop()
    assert run.history.in_service[-1] == 2 and run.history.booting[-1] == 2 and run.history.working[-1] == 0
    assert [q["Id"] for q in metric_queries(name, group, 60)] == ["visible", "in_flight", "desired", "in_service"]


def test_latest_takes_the_newest_value_whatever_the_order():
    results = [
        {"Id": "v", "Timestamps": [3, 1, 2], "Values": [30.0, 10.0, 20.0]},
        {"Id": "d", "Timestamps": [], "Values": []},
    ]
    assert latest(results) == {"v": 30.0}
