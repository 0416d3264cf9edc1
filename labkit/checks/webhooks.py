"""Checks for 06-webhooks."""

from __future__ import annotations

import boto3

from labkit.checks._report import Result, check, hint, passed


@check
def bounces_counted(table: str, mail_id: str, expected: int = 1) -> Result:
    """The worker counted ``expected`` bounces for ``mail_id`` in the table (attribute ``bounces``)."""
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"mail_id": {"S": mail_id}}).get("Item")
    if item is None:
        return hint(
            f"no item for {mail_id!r} in {table}: did the bounce event reach the worker? "
            "Publish it with tracker.publish('email.bounced', {'mail_id': ...}) and wait for the worker"
        )
    if "bounces" not in item:
        return hint(
            f"{mail_id} has {sorted(item)} but no 'bounces': make the handler ADD bounces :one for email.bounced"
        )
    got = int(item["bounces"]["N"])
    if got != expected:
        more = "twice? make the update idempotent by webhook id" if got > expected else "not yet all of them"
        return hint(f"{mail_id} has bounces = {got}, expected {expected} ({more})")
    return passed(f"{mail_id}: bounces = {got}, counted once")


@check
def sns_confirmed(topic: str, endpoint: str) -> Result:
    """The topic (a name or an ARN) has an HTTP subscription to ``endpoint``, confirmed (not pending)."""
    sns = boto3.client("sns")
    if topic.startswith("arn:"):
        topic_arn = topic
    else:
        arns = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
        found = [arn for arn in arns if arn.rsplit(":", 1)[-1] == topic]
        if not found:
            return hint(f"there is no topic named {topic!r} yet: create it with sns.create_topic(Name=...)")
        topic_arn = found[0]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    mine = [s for s in subs if s.get("Endpoint") == endpoint and s.get("Protocol") in ("http", "https")]
    if not mine:
        return hint(f"the topic has no http subscription to the receiver's /sns URL ({len(subs)} others): subscribe it")
    arn = mine[0]["SubscriptionArn"]
    if not arn.startswith("arn:"):
        return hint("the subscription is still pending: fetch the SubscribeURL from receiver.confirmations")
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    if attrs.get("PendingConfirmation", "false") == "true":
        return hint(
            "the subscription is still pending: did the receiver accept the topic (receiver.sns_topics)? "
            "Then fetch the SubscribeURL of the confirmation it kept"
        )
    return passed(f"subscription to {topic_arn.rsplit(':', 1)[-1]} confirmed; SNS will now deliver to the receiver")
