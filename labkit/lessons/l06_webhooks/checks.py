"""Checks for 06-webhooks."""

from __future__ import annotations

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, suffix_of


@exercise(1, "count bounces", looks_for="table labkit-06-<suffix>-mail-stats")
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


@exercise(2, "a second topic", looks_for="topic labkit-06-<suffix>-bounce-alerts or a tagged one")
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


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("06")


@bounces_counted.finder
def _stats_table(scan: Scan) -> list[Candidate]:
    tables = [t for t in scan.tables() if suffix_of("labkit-06-{s}-mail-stats", t)]
    return [Candidate(t, (t, "m-1003"), {"expected": 1}) for t in tables]


@sns_confirmed.finder
def _alerts_topic(scan: Scan) -> list[Candidate]:
    topics = scan.topics()
    named = [n for n in topics if suffix_of("labkit-06-{s}-bounce-alerts", n)]
    demo = ("labkit-06-{s}-bounce-alerts", "labkit-06-{s}-mail-events")
    tagged = [
        n for n in topics if not any(suffix_of(p, n) for p in demo) and scan.topic_lesson(topics[n]) == LESSON.tag
    ]
    firsts = {n: suffix_of("labkit-06-{s}-mail-events", n) for n in topics}
    attempts = []
    for name in named + tagged:
        # The receiver's /sns URL lives in the kernel. A subscription to it names it, as does the one the lesson
        # made from its first topic (labkit-06-<suffix>-mail-events, same run) to the same receiver.
        mine = [e for e in scan.http_endpoints(topics[name]) if e.endswith("/sns")]
        run = suffix_of("labkit-06-{s}-bounce-alerts", name)
        same_run = [n for n, s in firsts.items() if s and (run is None or s == run)]
        receivers = [e for n in same_run for e in scan.http_endpoints(topics[n])]
        for endpoint in dict.fromkeys(mine or receivers or [""]):
            attempts.append(Candidate(name, (name, endpoint)))
    return attempts
