"""End-to-end test of the order pipeline: signed callbacks in, each order stored exactly once, in order.

It runs against the stack named by CAPSTONE_STACK on the backend boto3 is pointed at (the notebook's).
It starts its own receiver (receiver.py, served by lesson 06's WebhookServer on 127.0.0.1) with its own
signing secret, sends every callback the way the mail-tracking service would, then waits and asserts.
"""

import json
import os
import time
import uuid

import boto3
import pytest
from receiver import make_receiver

from labkit.aws.sqs import depth, peek_all
from labkit.lessons.l06_webhooks import WebhookServer, new_secret
from labkit.lessons.l12_capstone.callbacks import Callback, order_callbacks, order_event, poison_callback, post

CUSTOMERS, ORDERS_EACH = 3, 2
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def stack():
    name = os.environ.get("CAPSTONE_STACK")
    if not name:
        pytest.fail("set CAPSTONE_STACK to the name of the deployed stack (the notebook does)")
    found = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


@pytest.fixture(scope="module")
def run(stack):
    """Send this run's callbacks once; every test below looks at what they became."""
    sqs = boto3.client("sqs")
    secret = new_secret()
    run_id = f"t{uuid.uuid4().hex[:6]}"
    callbacks = order_callbacks(run_id, CUSTOMERS, ORDERS_EACH)
    # out of order: the first customer's last order has "paid" (seq 2) retried after "shipped" (seq 3)
    late = next(c for c in callbacks if c.event["order_id"] == f"{run_id}-c000-o01" and c.event["seq"] == 2)
    callbacks.remove(late)
    # duplicates: a retry with the same webhook id, and the same event re-sent as a new delivery
    retried = callbacks[0]
    resent = Callback(f"msg_{uuid.uuid4().hex}", callbacks[1].customer, callbacks[1].body)
    poison = poison_callback(run_id)
    statuses = {}
    with WebhookServer({"/orders": make_receiver(secret, stack["QueueUrl"], sqs)}) as server:
        url = server.url("/orders")
        for callback in [*callbacks, retried, resent, late, poison]:
            statuses[callback.webhook_id] = post(url, secret, callback)
        forged = order_event(run_id, 9, 0, 1)
        statuses["forged"] = post(url, new_secret(), forged)
    expected = {}
    for callback in [*callbacks, late]:
        expected.setdefault(callback.event["order_id"], []).append(callback.event["seq"])
    wait_for(stack, expected, poison)
    return {"id": run_id, "expected": expected, "statuses": statuses, "poison": poison, "late": late}


def items_of(stack, run_id):
    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=stack["TableName"],
            FilterExpression="begins_with(order_id, :run)",
            ExpressionAttributeValues={":run": {"S": run_id}},
        )
    )
    return {i["order_id"]["S"]: i for page in pages for i in page["Items"]}


def dlq_bodies(stack):
    """Every message in the DLQ, left there (peek_all receives them all, then makes them visible again)."""
    return [m["Body"] for m in peek_all(boto3.client("sqs"), stack["DeadLetterQueueUrl"])]


def wait_for(stack, expected, poison):
    """Until the queue is empty, every order has an item and the poison message is in the DLQ (or TIMEOUT_S).

    It waits for the pipeline to finish, not for the right answer: the tests below judge what it did.
    """
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + TIMEOUT_S
    run_id = next(iter(expected)).split("-")[0]
    while time.monotonic() < deadline:
        visible, in_flight = depth(sqs, stack["QueueUrl"])
        finished = not visible and not in_flight and set(expected) <= set(items_of(stack, run_id))
        if finished and poison.body in dlq_bodies(stack):
            return
        time.sleep(1)


def test_every_signed_callback_is_accepted_and_a_forged_one_refused(run):
    assert run["statuses"].pop("forged") == 401
    assert set(run["statuses"].values()) == {202}


def test_every_order_is_stored_exactly_once(run, stack):
    items = items_of(stack, run["id"])
    assert sorted(items) == sorted(run["expected"])  # one item per order, nothing else (not the poison)
    for order_id, item in items.items():
        history = [int(s["N"]) for s in item["history"]["L"]]
        assert len(set(history)) == len(history), f"{order_id}: an event was applied twice: {history}"
        assert int(item["applied"]["N"]) == len(history), f"{order_id}: applied {item['applied']['N']}× {history}"


def test_each_customers_events_are_applied_in_order(run, stack):
    items = items_of(stack, run["id"])
    late_order = run["late"].event["order_id"]
    for order_id, item in items.items():
        history = [int(s["N"]) for s in item["history"]["L"]]
        assert history == sorted(history), f"{order_id}: an older event was applied after a newer one: {history}"
        assert item["order_status"]["S"] == "shipped", f"{order_id} ends {item['order_status']['S']}, not shipped"
        if order_id != late_order:  # sent in order, so FIFO hands them over in order: every step is applied
            assert history == [1, 2, 3], f"{order_id}: {history}"
    assert [int(s["N"]) for s in items[late_order]["history"]["L"]] == [1, 3]  # the late "paid" is refused


def test_every_applied_event_has_one_receipt(run, stack):
    listed = boto3.client("s3").list_objects_v2(Bucket=stack["BucketName"], Prefix=f"receipts/{run['id']}-")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    items = items_of(stack, run["id"])
    wanted = sorted(
        f"receipts/{i['customer']['S']}/{k}-{s['N']}.json" for k, i in items.items() for s in i["history"]["L"]
    )
    assert keys == wanted


def test_the_poison_message_is_in_the_dead_letter_queue(run, stack):
    assert run["poison"].body in dlq_bodies(stack)
    assert json.loads(run["poison"].body)["order_id"] not in items_of(stack, run["id"])
