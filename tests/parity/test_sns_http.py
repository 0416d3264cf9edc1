"""SNS HTTP subscriptions, as lesson 06 uses them: the confirmation handshake, notifications, S3 → SNS.

A plain HTTP server on 127.0.0.1 stands in for the receiver; everything else is plain boto3.
A behaviour the backend lacks is skipped with the reason found by probing it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.exceptions
import pytest

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Inbox:
    """Every POST the server received: (x-amz-sns-message-type, parsed JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def wait_for(self, predicate, timeout: float = 5.0) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [p for p in self.posts if predicate(*p)]
            if found:
                return found
            time.sleep(0.05)
        return []


@pytest.fixture
def endpoint():
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with inbox.lock:
                inbox.posts.append((self.headers.get("x-amz-sns-message-type", ""), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sns", inbox
    server.shutdown()
    server.server_close()


@pytest.fixture
def topic(lab, unique):
    sns = boto3.client("sns")
    arn = sns.create_topic(Name=f"parity-06-{unique}")["TopicArn"]
    yield arn
    sns.delete_topic(TopicArn=arn)


def _confirmed_subscription(sns, topic_arn, url, inbox):
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=url)
    found = inbox.wait_for(lambda kind, body: kind == "SubscriptionConfirmation")
    assert found, "no SubscriptionConfirmation POST arrived"
    with DIRECT.open(found[0][1]["SubscribeURL"], timeout=5) as answer:
        assert answer.status == 200
    return next(s for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] if s["Endpoint"] == url)


def test_subscription_confirmation_is_posted_and_pending_until_confirmed(lab, topic, endpoint):
    url, inbox = endpoint
    sns = boto3.client("sns")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    found = inbox.wait_for(lambda kind, body: kind == "SubscriptionConfirmation")
    assert found, "no SubscriptionConfirmation POST arrived"
    message = found[0][1]
    assert message["Type"] == "SubscriptionConfirmation" and message["TopicArn"] == topic
    assert message["SubscribeURL"] and message["Token"]

    sub = next(s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Endpoint"] == url)
    if sub["SubscriptionArn"].startswith("arn:"):
        attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        assert attrs["PendingConfirmation"] == "true"

    sns.publish(TopicArn=topic, Message="before confirmation")
    time.sleep(0.5)
    assert not [p for p in inbox.posts if p[0] == "Notification"], "delivered before the subscription was confirmed"

    with DIRECT.open(message["SubscribeURL"], timeout=5) as answer:
        assert answer.status == 200
    sub = next(s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Endpoint"] == url)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attrs["PendingConfirmation"] == "false"


def test_notifications_reach_the_endpoint_with_the_sns_headers(lab, topic, endpoint):
    url, inbox = endpoint
    sns = boto3.client("sns")
    _confirmed_subscription(sns, topic, url, inbox)
    sns.publish(TopicArn=topic, Subject="weekly report", Message='{"opens": 3}')
    found = inbox.wait_for(lambda kind, body: kind == "Notification")
    assert found, "no Notification POST arrived"
    note = found[0][1]
    assert note["Type"] == "Notification" and note["TopicArn"] == topic
    assert note["Subject"] == "weekly report" and json.loads(note["Message"]) == {"opens": 3}
    assert note["MessageId"]


def test_confirm_subscription_with_a_wrong_token_is_refused(lab, topic, endpoint):
    url, _ = endpoint
    sns = boto3.client("sns")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    with pytest.raises(sns.exceptions.ClientError) as err:
        sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
    assert err.value.response["Error"]["Code"] in ("InvalidParameter", "InvalidParameterException")


def test_s3_event_notifications_reach_the_http_endpoint_through_sns(lab, topic, endpoint, unique):
    url, inbox = endpoint
    sns, s3 = boto3.client("sns"), boto3.client("s3")
    _confirmed_subscription(sns, topic, url, inbox)
    bucket = f"parity-06-{unique}"
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]},
        )
        s3.put_object(Bucket=bucket, Key="a/b.csv", Body=b"x,y\n")
        found = inbox.wait_for(lambda kind, body: kind == "Notification" and "Records" in body.get("Message", ""))
        if not found:
            pytest.skip("this backend stores S3 notification configurations but does not deliver them to SNS")
        record = json.loads(found[0][1]["Message"])["Records"][0]
        assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated:")
        assert record["s3"]["bucket"]["name"] == bucket and record["s3"]["object"]["key"] == "a/b.csv"
    finally:
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_transact_write_with_a_failed_condition_writes_nothing(lab, unique, dynamodb_available):
    """The worker's idempotency: a duplicate webhook id cancels the whole transaction, counter included."""
    dynamodb = boto3.client("dynamodb")
    names = (f"parity-06-{unique}-seen", f"parity-06-{unique}-stats")
    try:
        for name, key in zip(names, ("webhook_id", "mail_id"), strict=True):
            dynamodb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        pytest.skip(f"this backend cannot create DynamoDB tables: {type(err).__name__}: {err}")
    try:
        for name in names:
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        writes = [
            {
                "Put": {
                    "TableName": names[0],
                    "Item": {"webhook_id": {"S": "msg_1"}},
                    "ConditionExpression": "attribute_not_exists(webhook_id)",
                }
            },
            {
                "Update": {
                    "TableName": names[1],
                    "Key": {"mail_id": {"S": "m-1"}},
                    "UpdateExpression": "ADD opens :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
        dynamodb.transact_write_items(TransactItems=writes)
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as err:
            dynamodb.transact_write_items(TransactItems=writes)
        reasons = [r.get("Code") for r in err.value.response["CancellationReasons"]]
        assert reasons[0] == "ConditionalCheckFailed"
        item = dynamodb.get_item(TableName=names[1], Key={"mail_id": {"S": "m-1"}})["Item"]
        assert item["opens"]["N"] == "1"
    finally:
        for name in names:
            dynamodb.delete_table(TableName=name)


def test_an_emulator_does_not_sign_as_sns_does_so_the_receiver_needs_its_allow_list(lab, topic, endpoint):
    """Lesson 06's emulator-vs-AWS row: on AWS a message's Signature verifies with SNS's certificate; the emulators
    send none SNS made (MiniStack: the word FAKE), so ``verify_sns`` takes them only from the allow-listed topic."""
    from labkit.lessons.l06_webhooks import verify_sns

    url, inbox = endpoint
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    found = inbox.wait_for(lambda kind, body: kind == "SubscriptionConfirmation")
    assert found, "no SubscriptionConfirmation POST arrived"
    message = found[0][1]
    assert message.get("Signature"), "every SNS message carries a Signature"
    if lab.is_emulator:
        ok, why = verify_sns(message)
        assert not ok and ("unsigned" in why or "SigningCertURL" in why)
        assert verify_sns(message, unsigned_from={topic}) == (True, "")
        assert not verify_sns(message, unsigned_from={topic + "-other"})[0]
    else:
        assert verify_sns(message) == (True, "")
