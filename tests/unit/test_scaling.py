"""Lesson 07's consumers are the Auto Scaling group's instances, running the notebook's own user data on the
embedded backend (a process group per instance): the group's size changes how many processes poll the queue,
every message is accounted for (the results table + the queue), and an instance terminated mid-job leaves
its messages in flight until they come back; the live run's sampler reads CloudWatch and starts no consumer.

The scaling itself (alarms running policies, target tracking) is the backend's: tests/unit/test_fillers.py.
The runner's lifecycle (start, stop, reboot, terminate): tests/unit/test_instance*.py.
"""

import base64
import json
import os
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import boto3
import nbformat
import pytest

from labkit.aws.tally import Tally
from labkit.backends.embedded import instances
from labkit.lessons.l07_scaling_with_cloudwatch import LiveRun
from labkit.lessons.l07_scaling_with_cloudwatch.live import latest, metric_queries

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "07-scaling-with-cloudwatch.ipynb"


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def lesson_user_data(queue_url: str, table: str) -> str:
    """The notebook's USER_DATA, made by the notebook's own cell for this queue and table."""
    [cell] = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if 'USER_DATA = f"""' in c.source]
    scope = {"queue_url": queue_url, "results_table": table, "boto3": boto3, "print": lambda *a, **k: None}
    exec(cell.source, scope)
    return scope["USER_DATA"]


@pytest.fixture
def fleet(embedded_lab):
    """A queue, a results table and a group whose launch template runs the lesson's user data."""
    sqs, ddb, ec2 = boto3.client("sqs"), boto3.client("dynamodb"), boto3.client("ec2")
    name = f"g-{uuid.uuid4().hex[:6]}"
    url = sqs.create_queue(QueueName=f"{name}-work", Attributes={"VisibilityTimeout": "3"})["QueueUrl"]
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "message_id", "AttributeType": "S"},
            {"AttributeName": "delivery", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "message_id", "KeyType": "HASH"},
            {"AttributeName": "delivery", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = base64.b64encode(lesson_user_data(url, name).encode()).decode()
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro", "UserData": user_data},
    )
    autoscaling = boto3.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    yield name, url
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def deliveries(table: str) -> list[tuple[str, str]]:
    """(message id, "<instance> receive <n>") for every time a consumer processed a message."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return [(i["message_id"]["S"], i["delivery"]["S"]) for page in pages for i in page["Items"]]


def consumers() -> dict[str, int]:
    """Instance id → its process group, for the instances whose consumer process runs now."""
    home = Path(os.environ["LABKIT_HOME"])
    return {r.instance_id: r.pid for r in instances.running(home) if r.pid}


def send(sqs, url: str, tally: Tally, n: int, **body) -> set[str]:
    ids = set()
    for start in range(0, n, 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"job": start + i, **body})} for i in range(min(10, n - start))
        ]
        ids |= {e["MessageId"] for e in tally.sent(sqs.send_message_batch(QueueUrl=url, Entries=entries))["Successful"]}
    return ids


def test_the_group_size_is_the_number_of_consumer_processes_and_every_message_is_accounted_for(fleet):
    name, url = fleet
    sqs, autoscaling = boto3.client("sqs"), boto3.client("autoscaling")
    assert _wait_for(lambda: len(consumers()) == 1)
    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=3)
    assert _wait_for(lambda: len(consumers()) == 3), "the group's three instances do not all run the consumer"
    tally = Tally()
    send(sqs, url, tally, 300)
    assert _wait_for(lambda: len(deliveries(name)) >= 300, timeout=40)
    polled = {delivery.split(" receive ")[0] for _, delivery in deliveries(name)}
    assert len(polled) == 3 and polled == set(consumers()), "three distinct instances should have processed messages"
    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    assert _wait_for(lambda: len(consumers()) == 1, timeout=10), "scale-in did not end two consumer processes"
    report = tally.reconcile(sqs, {"work": url}, processed=lambda: [m for m, _ in deliveries(name)])
    assert report.ok and report.processed == 300 and report.accounted == 300, str(report)


def test_an_instance_terminated_mid_job_leaves_its_messages_in_flight_until_they_come_back(fleet):
    name, url = fleet
    sqs, autoscaling = boto3.client("sqs"), boto3.client("autoscaling")
    assert _wait_for(lambda: len(consumers()) == 1)
    [busy] = consumers()
    tally = Tally()
    slow = send(sqs, url, tally, 10, seconds=0.3)

    def in_flight() -> int:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"])

    assert _wait_for(lambda: in_flight() == 10)
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=busy, ShouldDecrementDesiredCapacity=False)
    assert busy not in consumers() and in_flight() == 10  # its process is gone, its messages are not back yet
    assert _wait_for(lambda: len(deliveries(name)) == 10, timeout=30)
    done = deliveries(name)
    assert {m for m, _ in done} == slow
    [(instance, receives)] = Counter(d.split(" receive ")[0] + "/" + d.split(" receive ")[1] for _, d in done).items()
    assert instance.startswith("i-") and not instance.startswith(busy) and instance.endswith("/2") and receives == 10
    report = tally.reconcile(sqs, {"work": url}, processed=lambda: [m for m, _ in done])
    assert report.ok and report.processed == 10 and report.processed_twice == 0, str(report)


def test_the_live_run_starts_no_consumer_only_its_sampler(embedded_lab, make_scaling_group):
    """The sampler reads the AWS/SQS and AWS/AutoScaling metrics and the group; it is the run's only thread."""
    sqs, autoscaling = boto3.client("sqs"), boto3.client("autoscaling")
    group = f"g-{uuid.uuid4().hex[:6]}"
    make_scaling_group(group, max_size=3)
    url = sqs.create_queue(QueueName=f"{group}-gauge")["QueueUrl"]
    autoscaling.enable_metrics_collection(
        AutoScalingGroupName=group, Granularity="1Minute", Metrics=["GroupDesiredCapacity", "GroupInServiceInstances"]
    )
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(7)])
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    before = set(threading.enumerate())
    run = LiveRun(f"{group}-gauge", group, period=1, sample_every=0.2).start()
    try:
        assert [t.name for t in set(threading.enumerate()) - before] == ["labkit-sampler"]
        assert _wait_for(lambda: len(run.history) and run.history.visible[-1] == 7 and run.history.desired[-1] == 2)
    finally:
        run.stop()
    assert run.history.in_service[-1] == 2 and run.history.working[-1] == 2 and run.history.processed[-1] is None
    assert run.errors == [] and run.summary() == "sampler: no failures"
    assert "processed" not in run.history.summary()
    assert [q["Id"] for q in metric_queries("q", group, 60)] == ["visible", "in_flight", "desired", "in_service"]


def test_the_notebook_consumes_nothing_itself():
    """Only the exercise cell (a function the check runs) receives or deletes: the live run's consumers are
    the instances."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    consuming = [c for c in cells if "receive_message(" in c.source or "delete_message" in c.source]
    assert consuming and all("exercise" in c.metadata.get("tags", []) for c in consuming if "USER_DATA" not in c.source)
    assert not any("threading" in c.source or "Thread(" in c.source for c in cells)


def test_latest_takes_the_newest_value_whatever_the_order():
    results = [
        {"Id": "v", "Timestamps": [3, 1, 2], "Values": [30.0, 10.0, 20.0]},
        {"Id": "d", "Timestamps": [], "Values": []},
    ]
    assert latest(results) == {"v": 30.0}
