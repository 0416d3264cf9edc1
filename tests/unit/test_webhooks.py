"""The mail-tracking service's retries, signatures and dead-lettering; the worker; the tally; the timeline."""

from __future__ import annotations

import itertools
import json
import random
import threading

import boto3
import pytest
from moto import mock_aws
from standardwebhooks import Webhook

from labkit.lessons.l06_webhooks import (
    EventAccounting,
    MailTracker,
    QueueWorker,
    RetryPolicy,
    SeenIds,
    WebhookReceiver,
    backoff_delay,
    new_secret,
    retryable,
)
from labkit.lessons.l06_webhooks.deliveries import delivery_chart, delivery_rows, delivery_summary

FAST = RetryPolicy(base=0.01, cap=0.04, max_attempts=4, timeout=1.0)


# ------------------------------------------------------------------ the schedule


def test_envelope_doubles_then_stops_at_the_cap():
    policy = RetryPolicy(base=0.5, cap=4.0, max_attempts=8)
    assert [policy.envelope(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert policy.worst_case_total() == 0.5 + 1 + 2 + 4 + 4 + 4 + 4


def test_full_jitter_stays_inside_the_envelope_and_spreads_out():
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(1)
    for attempt in range(1, 10):
        delays = [backoff_delay(policy, attempt, rng) for _ in range(500)]
        assert all(0 <= d <= policy.envelope(attempt) for d in delays)
        # jitter: the waits are spread over the whole envelope, not bunched at one value
        assert max(delays) - min(delays) > 0.8 * policy.envelope(attempt)


def test_the_schedule_is_repeatable_with_a_seed():
    policy = RetryPolicy()
    first = [backoff_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    again = [backoff_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    assert first == again


@pytest.mark.parametrize(
    "status, again", [(None, True), (408, True), (429, True), (500, True), (503, True), (400, False), (401, False)]
)
def test_what_is_worth_retrying(status, again):
    assert retryable(status) is again


# ------------------------------------------------------------------ the sender, with a fake network


class FakeNetwork:
    """Answers POSTs from a script of statuses (None = connection refused); records what was sent."""

    def __init__(self, script):
        self.script = list(script)
        self.sent: list[tuple[str, bytes, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, url, body, headers, timeout):
        with self.lock:
            self.sent.append((url, body, headers))
            status = self.script.pop(0) if self.script else 200
        if status is None:
            raise ConnectionRefusedError("nobody listening")
        return status


def tracker_with(script, policy=FAST, **kwargs):
    net = FakeNetwork(script)
    letters: list[dict] = []
    tracker = MailTracker(policy, post=net, dead_letter=letters.append, seed=3, **kwargs)
    endpoint = tracker.register("acme", "http://127.0.0.1:9/hook")
    return tracker, net, letters, endpoint


def test_a_delivery_that_succeeds_is_sent_once():
    tracker, net, letters, _ = tracker_with([202])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == 1 and letters == []
    assert [a.outcome for a in tracker.log] == ["delivered"]


def test_failures_are_retried_with_the_same_id_and_fresh_valid_signatures():
    tracker, net, letters, endpoint = tracker_with([None, 503, 202])
    webhook_id = tracker.publish("email.clicked", {"mail_id": "m-1", "link": "https://example.com"})
    assert tracker.wait(5)
    tracker.close()
    assert [a.outcome for a in tracker.log] == ["retry", "retry", "delivered"]
    assert [a.number for a in tracker.log] == [1, 2, 3]
    assert all(h["webhook-id"] == webhook_id for _, _, h in net.sent)
    for _, body, headers in net.sent:
        payload = Webhook(endpoint.secret).verify(body, headers)
        assert payload["data"]["mail_id"] == "m-1" and payload["type"] == "email.clicked"
    # each retry waited at most its envelope
    delays = [a.next_delay for a in tracker.log[:2]]
    assert all(0 <= d <= FAST.envelope(n) for n, d in enumerate(delays, start=1))
    assert letters == []


def test_gives_up_after_max_attempts_into_the_dead_letter_queue():
    tracker, net, letters, _ = tracker_with([None] * 10)
    webhook_id = tracker.publish("email.opened", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == FAST.max_attempts
    assert [a.outcome for a in tracker.log] == ["retry"] * (FAST.max_attempts - 1) + ["dead-lettered"]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["webhook_id"] == webhook_id and letter["attempts"] == FAST.max_attempts
    assert letter["payload"]["data"] == {"mail_id": "m-2"} and "ConnectionRefused" in letter["last_error"]
    assert tracker.outcomes() == {"dead-lettered": 1}


def test_a_permanent_client_error_is_dead_lettered_at_once():
    tracker, net, letters, _ = tracker_with([413])
    tracker.publish("email.opened", {"mail_id": "m-3"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == 1 and letters[0]["last_status"] == 413


def test_attempt_times_follow_the_backoff():
    policy = RetryPolicy(base=0.05, cap=0.2, max_attempts=5)
    tracker, _, _, _ = tracker_with([None] * 10, policy=policy)
    tracker.publish("email.opened", {"mail_id": "m-4"})
    assert tracker.wait(5)
    tracker.close()
    log = tracker.log
    for before, after in itertools.pairwise(log):
        gap = after.seconds - before.seconds
        assert gap >= before.next_delay - 0.005  # never early
        assert gap <= before.next_delay + 0.25  # and not much late


def test_publish_goes_only_to_the_named_endpoint():
    tracker, net, _, _ = tracker_with([200, 200])
    tracker.register("other", "http://127.0.0.1:9/other")
    tracker.publish("email.opened", {"mail_id": "m-5"}, to="other")
    assert tracker.wait(5)
    tracker.close()
    assert [url for url, _, _ in net.sent] == ["http://127.0.0.1:9/other"]
    with pytest.raises(ValueError):
        tracker.publish("email.opened", {"mail_id": "m-5"}, to="nobody")


def test_many_events_all_settle():
    tracker, net, letters, _ = tracker_with([None, 500, 200] * 20)
    ids = {tracker.publish("email.opened", {"mail_id": f"m-{i}"}) for i in range(20)}
    assert tracker.wait(10)
    tracker.close()
    settled = {a.webhook_id for a in tracker.log if a.outcome in ("delivered", "dead-lettered")}
    assert settled == ids
    given_up = {a.webhook_id for a in tracker.log if a.outcome == "dead-lettered"}
    assert {letter["webhook_id"] for letter in letters} == given_up
    assert len(net.sent) == len(tracker.log)


def test_real_sender_and_receiver_over_http():
    got: list[tuple[str, str]] = []
    tracker = MailTracker(FAST, seed=1)
    endpoint = tracker.register("acme", "(later)")
    with WebhookReceiver(endpoint.secret, lambda wid, body: got.append((wid, body))) as receiver:
        endpoint.url = receiver.url
        webhook_id = tracker.publish("email.delivered", {"mail_id": "m-9"})
        assert tracker.wait(5)
    tracker.close()
    assert [a.status for a in tracker.log] == [202]
    assert got[0][0] == webhook_id and json.loads(got[0][1])["data"]["mail_id"] == "m-9"


# ------------------------------------------------------------------ idempotency memory


def test_seen_ids_forget_after_the_ttl():
    now = [0.0]
    seen = SeenIds(ttl=10, clock=lambda: now[0])
    assert seen.claim("a") and not seen.claim("a")
    now[0] = 11
    assert seen.claim("b") and len(seen) == 1  # "a" was pruned
    assert seen.claim("a")
    seen.release("a")
    assert seen.claim("a")


# ------------------------------------------------------------------ the worker (moto SQS)


@mock_aws
def test_worker_deletes_what_it_handled_and_leaves_failures_for_the_dlq():
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    for wid, data in (("msg_1", {"mail_id": "m-1"}), ("msg_2", {"mail": {"id": "m-2"}})):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps({"type": "email.opened", "data": data}),
            MessageAttributes={"webhook-id": {"DataType": "String", "StringValue": wid}},
        )
    seen: list[str] = []

    def handle(event, webhook_id):
        seen.append(event["data"]["mail_id"])
        return "counted"

    with QueueWorker(sqs, queue, handle) as worker:
        assert worker.wait_until_empty(timeout=15)
    assert seen == ["m-1"]
    ok = [h for h in worker.handled if h.ok]
    bad = [h for h in worker.handled if not h.ok]
    assert [h.webhook_id for h in ok] == ["msg_1"]
    assert {h.webhook_id for h in bad} == {"msg_2"} and len(bad) == 2
    assert "KeyError" in bad[0].note
    moved = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert moved[0]["MessageAttributes"]["webhook-id"]["StringValue"] == "msg_2"


# ------------------------------------------------------------------ the tally and the timeline


def test_accounting_finds_lost_and_doubled_events():
    published = {"a": "opened m-1", "b": "clicked m-1", "c": "opened m-2"}
    good = EventAccounting(published, {"processed": {"a", "b"}, "dlq": {"c"}})
    assert good.ok and "lost 0" in str(good)
    lost = EventAccounting(published, {"processed": {"a"}, "dlq": {"c"}})
    assert not lost.ok and lost.missing == ["clicked m-1"]
    doubled = EventAccounting(published, {"processed": {"a", "b", "c"}, "dlq": {"c"}})
    assert not doubled.ok and doubled.twice == ["opened m-2"]


def test_timeline_rows_and_summary():
    tracker, _, _, _ = tracker_with([None, 202, None, None, None, None])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    tracker.publish("email.clicked", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    rows = delivery_rows(tracker.log)
    assert [r.label for r in rows] == ["opened m-1", "clicked m-2"]
    assert rows[0].outcomes == ("retry", "delivered") and rows[0].statuses == ("no answer", "202")
    assert rows[1].final == "dead-lettered" and len(rows[1].times) == FAST.max_attempts
    assert list(rows[0].times) == sorted(rows[0].times)
    summary = delivery_summary(tracker.log)
    assert summary.startswith("2 events, 6 attempts: 1 delivered (1 after retries), 1 dead-lettered")


def test_timeline_chart_draws_one_row_per_event():
    import matplotlib

    matplotlib.use("Agg")
    tracker, _, _, _ = tracker_with([None, 200, 200])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    tracker.publish("email.opened", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    fig = delivery_chart(tracker.log, down=[(0.0, 0.01)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["opened m-1", "opened m-2"]
    assert {"delivered", "failed, retried later", "given up → DLQ"} <= {
        t.get_text() for t in ax.get_legend().get_texts()
    }


def test_secrets_are_standard_webhooks_secrets():
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    Webhook(secret)  # parses


# ------------------------------------------------------------------ the lesson's checks (moto)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield


def test_bounces_counted_check(aws):
    from labkit.lessons.l06_webhooks import checks

    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="stats",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "mail_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "mail_id", "KeyType": "HASH"}],
    )
    assert not checks.bounces_counted("stats", "m-3")  # no item
    dynamodb.put_item(TableName="stats", Item={"mail_id": {"S": "m-3"}, "opens": {"N": "1"}})
    assert not checks.bounces_counted("stats", "m-3")  # no bounces attribute
    dynamodb.put_item(TableName="stats", Item={"mail_id": {"S": "m-3"}, "bounces": {"N": "2"}})
    result = checks.bounces_counted("stats", "m-3")
    assert not result and "twice" in result.message
    dynamodb.put_item(TableName="stats", Item={"mail_id": {"S": "m-3"}, "bounces": {"N": "1"}})
    assert checks.bounces_counted("stats", "m-3")


def test_sns_confirmed_check_wants_a_confirmed_http_subscription(aws):
    from labkit.lessons.l06_webhooks import checks

    sns = boto3.client("sns")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    url = "http://127.0.0.1:9/sns"
    result = checks.sns_confirmed("no-such-topic", url)
    assert not result and "no topic named" in result.message
    result = checks.sns_confirmed("alerts", url)
    assert not result and "no http subscription" in result.message
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=url, ReturnSubscriptionArn=True)["SubscriptionArn"]
    pending = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"].get("PendingConfirmation")
    assert bool(checks.sns_confirmed(arn, url)) == (pending != "true")
