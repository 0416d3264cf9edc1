"""One look at the backend for ``labkit progress``: what the exercises' finders search.

Outside a notebook there are no notebook variables, so each exercise's finder (next to its check, in
the lesson's ``checks.py``) looks on the backend for what the exercise made: by the names the lesson
uses (``my-first-queue-<suffix>``, ``labkit-04-<suffix>-steps.fifo``, ...) or by the ``labkit:lesson``
tag a lesson puts on what it creates. A :class:`Scan` lists each service once and remembers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import boto3

from labkit.backends.aws import TAG_KEY
from labkit.course.registry import BY_NUMBER

T = TypeVar("T")
SUFFIX = r"[0-9a-f]{8}"  # the lessons' uuid4().hex[:8]


def tag_value(tags: Any) -> str | None:
    """The labkit:lesson value from a {Key: Value} mapping or a [{"Key", "Value"}] list."""
    if isinstance(tags, dict):
        return cast("str | None", tags.get(TAG_KEY))
    for tag in tags or []:
        if tag.get("Key") == TAG_KEY:
            return cast("str | None", tag.get("Value"))
    return None


def name_tag(tags: Any) -> str:
    return next((t["Value"] for t in tags or [] if t.get("Key") == "Name"), "")


def suffix_of(pattern: str, name: str) -> str | None:
    """The suffix when ``name`` matches ``pattern`` (which contains one ``{s}``), else None."""
    match = re.fullmatch(pattern.replace(".", r"\.").format(s=f"({SUFFIX})"), name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Candidate:
    """Something a finder found: the arguments for the check, or (``detail``) why it cannot pass yet."""

    label: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


class Scan:
    """One look at the backend: clients from boto3's default session, listings made once."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._memo: dict[tuple[str, ...], Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service)
        return self._clients[service]

    def once(self, key: tuple[str, ...], make: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = make()
        return cast(T, self._memo[key])

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    # SQS
    def queues(self) -> dict[str, str]:
        """Queue name → URL."""
        urls = self.once(("sqs",), lambda: self.pages("sqs", "list_queues", "QueueUrls"))
        return {url.rsplit("/", 1)[-1]: url for url in urls}

    def queue_attributes(self, name: str) -> dict[str, str]:
        url = self.queues()[name]

        def read() -> dict[str, str]:
            sqs = self.client("sqs")
            try:
                answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
                attributes: dict[str, str] = answer["Attributes"]
                return attributes
            except sqs.exceptions.QueueDoesNotExist:  # deleted since the listing
                return {}

        return self.once(("sqs-attrs", name), read)

    def newest_queues_first(self, names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda n: -int(self.queue_attributes(n).get("CreatedTimestamp", 0)))

    def queue_lesson(self, name: str) -> str | None:
        url = self.queues()[name]

        def read() -> str | None:
            sqs = self.client("sqs")
            try:
                return tag_value(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))
            except sqs.exceptions.QueueDoesNotExist:
                return None

        return self.once(("sqs-tags", name), read)

    def queues_matching(self, pattern: str) -> list[str]:
        return self.newest_queues_first(n for n in self.queues() if suffix_of(pattern, n))

    def learner_queues(self, lesson: str, demo: Iterable[str] = ()) -> list[str]:
        """Queues tagged with the lesson that are not one of its demos: named by the learner."""
        demo_patterns = [f"labkit-{lesson}-{{s}}-{d}" for d in demo] + [f"labkit-{lesson}-{{s}}"]
        return self.newest_queues_first(
            n
            for n in self.queues()
            if self.queue_lesson(n) == BY_NUMBER[lesson].tag and not any(suffix_of(p, n) for p in demo_patterns)
        )

    # S3, DynamoDB, Lambda, SNS
    def buckets(self) -> list[str]:
        found = self.once(("s3",), lambda: self.client("s3").list_buckets().get("Buckets", []))
        return [b["Name"] for b in sorted(found, key=lambda b: b.get("CreationDate") or 0, reverse=True)]

    def tables(self) -> list[str]:
        return self.once(("dynamodb",), lambda: self.pages("dynamodb", "list_tables", "TableNames"))

    def table_lesson(self, name: str) -> str | None:
        def read() -> str | None:
            dynamodb = self.client("dynamodb")
            arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
            return tag_value(dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", []))

        return self.once(("dynamodb-tags", name), read)

    def functions(self) -> list[dict[str, Any]]:
        found = self.once(("lambda",), lambda: self.pages("lambda", "list_functions", "Functions"))
        return sorted(found, key=lambda f: f.get("LastModified", ""), reverse=True)

    def function_lesson(self, function: dict[str, Any]) -> str | None:
        arn = function["FunctionArn"]
        return self.once(
            ("lambda-tags", arn), lambda: tag_value(self.client("lambda").list_tags(Resource=arn).get("Tags", {}))
        )

    def topics(self) -> dict[str, str]:
        """Topic name → ARN."""
        arns = self.once(("sns",), lambda: [t["TopicArn"] for t in self.pages("sns", "list_topics", "Topics")])
        return {arn.rsplit(":", 1)[-1]: arn for arn in arns}

    def topic_lesson(self, arn: str) -> str | None:
        return self.once(
            ("sns-tags", arn),
            lambda: tag_value(self.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags", [])),
        )

    def http_endpoints(self, topic_arn: str) -> list[str]:
        subs = self.pages("sns", "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn)
        return [s["Endpoint"] for s in subs if s.get("Protocol") in ("http", "https")]

    # EC2
    def vpcs_named(self, pattern: str) -> dict[str, str]:
        """VPC id → suffix, for VPCs whose Name tag matches ``pattern``."""
        vpcs = self.once(("ec2-vpcs",), lambda: self.pages("ec2", "describe_vpcs", "Vpcs"))
        found = {v["VpcId"]: suffix_of(pattern, name_tag(v.get("Tags"))) for v in vpcs}
        return {vpc: s for vpc, s in found.items() if s}

    def security_groups(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.pages("ec2", "describe_security_groups", "SecurityGroups", **kwargs)


def newest(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: str(i.get(key, "")), reverse=True)


def candidates(names: Iterable[str], **kwargs: Any) -> list[Candidate]:
    return [Candidate(n, (n,), kwargs) for n in dict.fromkeys(names)]
