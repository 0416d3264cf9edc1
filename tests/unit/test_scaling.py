"""Lesson 07's consumers are the Auto Scaling group's instances, running the notebook's own user data on the
embedded backend (a process group per instance): the group's size changes how many processes poll the queue,
every message is accounted for (the results table + the queue), and an instance terminated mid-job leaves
its messages in flight until they come back; a consumer whose deletes fail for a while says so in its console
output and keeps going, and the messages it could not delete come back and are processed; the live run's sampler
reads CloudWatch and starts no consumer.

The scaling itself (alarms running policies, target tracking) is the backend's: tests/unit/test_fillers.py.
The runner's lifecycle (start, stop, reboot, terminate): tests/unit/test_instance*.py.
"""

import base64
import contextlib
import http.client
import json
import os
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import nbformat
import pytest

from labkit.aws.sqs import depth
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
    yield from make_fleet()


def make_fleet(edit=lambda user_data: user_data):
    """``fleet``'s queue, table and group; ``edit`` may change the lesson's user data first."""
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
    user_data = base64.b64encode(edit(lesson_user_data(url, name)).encode()).decode()
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


class FlakySqs:
    """An SQS endpoint on 127.0.0.1 for one instance's consumer (its user data exports ``AWS_ENDPOINT_URL_SQS``):
    every call goes on to the backend's SQS except the first ``DeleteMessageBatch`` calls, which it answers itself
    as SQS answers deletes that fail: ``AccessDenied`` (boto3 raises; not an error it retries), then every entry in
    ``Failed`` (boto3 returns). Those deletes never reach SQS, so their messages stay in the queue for real.

    Why a stand-in endpoint: the embedded backend's SQS (MiniStack) enforces no queue policy or IAM, so nothing in
    the backend can refuse a delete; this changes only the network path of the lesson's own consumer."""

    def __init__(self, upstream: str, failures=("denied", "failed", "denied", "failed")):
        self.upstream = urlsplit(upstream).netloc
        self.failures = list(failures)
        self.denied_calls = self.failed_entries = self.refused = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with contextlib.suppress(ConnectionError):  # the instance ended mid-receive
                    stub.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request):
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        failure = None
        if request.headers.get("X-Amz-Target") == "AmazonSQS.DeleteMessageBatch":
            entries = json.loads(body)["Entries"]
            with self.lock:
                failure = self.failures.pop(0) if self.failures else None
                self.refused += len(entries) if failure else 0
                self.denied_calls += failure == "denied"
                self.failed_entries += len(entries) if failure == "failed" else 0
        if failure == "denied":
            error = {
                "__type": "com.amazonaws.sqs#AccessDenied",
                "message": "not authorized to perform sqs:DeleteMessage",
            }
            return self.answer(request, 403, json.dumps(error).encode(), {"x-amzn-query-error": "AccessDenied;Sender"})
        if failure == "failed":
            failed = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in entries]
            return self.answer(request, 200, json.dumps({"Successful": [], "Failed": failed}).encode())
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
        upstream = http.client.HTTPConnection(self.upstream, timeout=60)  # a receive long-polls up to 20 s
        try:
            upstream.request("POST", request.path, body, headers)
            response = upstream.getresponse()
            kept = {k: v for k, v in response.getheaders() if k.lower() in ("content-type", "x-amzn-requestid")}
            self.answer(request, response.status, response.read(), kept)
        finally:
            upstream.close()

    @staticmethod
    def answer(request, status: int, body: bytes, headers=None):
        request.send_response(status)
        for key, value in {"Content-Type": "application/x-amz-json-1.0", **(headers or {})}.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@pytest.fixture
def flaky_fleet(embedded_lab):
    """``fleet``, its one instance's consumer talking to SQS through a ``FlakySqs``."""
    stub = FlakySqs(boto3.client("sqs").meta.endpoint_url)

    def through_stub(user_data: str) -> str:
        assert user_data.count("\nexec python3 ") == 1, "the lesson's user data no longer ends in exec python3"
        return user_data.replace("\nexec python3 ", f"\nexport AWS_ENDPOINT_URL_SQS={stub.url}\nexec python3 ")

    made = make_fleet(through_stub)
    try:
        yield (*next(made), stub)
        next(made, None)  # the group and its instance go first: no consumer outlives the stub
    finally:
        stub.close()


def test_a_consumer_whose_deletes_fail_says_so_keeps_going_and_every_message_is_processed(flaky_fleet):
    name, url, stub = flaky_fleet
    sqs = boto3.client("sqs")
    assert _wait_for(lambda: len(consumers()) == 1)
    [(instance, pid)] = consumers().items()
    tally = Tally()
    sent = send(sqs, url, tally, 40)

    def done() -> (
        bool
    ):  # every planned failure happened, and every refused delete's message came back and was processed
        return not stub.failures and len(deliveries(name)) >= 40 + stub.refused and depth(sqs, url) == (0, 0)

    _wait_for(lambda: instance not in consumers() or done(), timeout=45)
    assert consumers() == {instance: pid}, "the consumer process ended: a failed delete killed it"
    assert done(), f"failures left {stub.failures}, {len(deliveries(name))} deliveries"
    output = boto3.client("ec2").get_console_output(InstanceId=instance)["Output"]
    assert output.count("AccessDenied") == stub.denied_calls == 2 and "DeleteMessageBatch" in output, output[-2000:]
    assert output.count("consumer: not deleted:") == stub.failed_entries > 0 and "InternalError" in output
    assert "Traceback" not in output
    rows = deliveries(name)
    assert {m for m, _ in rows} == sent
    again = {m for m, d in rows if not d.endswith(" receive 1")}
    assert again and len(rows) >= 40 + stub.refused, "the messages not deleted should have been processed again"
    report = tally.reconcile(sqs, {"work": url}, processed=lambda: [m for m, _ in rows])
    assert report.ok and report.processed == 40 and report.in_queues == {}, str(report)


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
