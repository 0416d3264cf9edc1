"""The machinery of a clean-up run: finding tagged resources (Tagging API or per service), the name rule,
deleting with retries, and the ``Step`` that each row of ``labkit.ops.ORDER`` is."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.parsers

from labkit.aws.errors import error_code
from labkit.backends.aws import TAG_KEY
from labkit.ops.report import DELETED, FAILED, LEFT, NOT_LISTED, PENDING, WOULD_DELETE, CleanupReport, Entry

NAME_PREFIX = "labkit-"

# Kinds the Tagging API finds: (service, resource-type prefix in the ARN).
TAGGING_TYPES = {
    "s3 bucket": ("s3", ""),
    "sqs queue": ("sqs", ""),
    "sns topic": ("sns", ""),
    "dynamodb table": ("dynamodb", "table/"),
    "lambda function": ("lambda", "function:"),
    "cloudwatch alarm": ("cloudwatch", "alarm:"),
    "log group": ("logs", "log-group:"),
    "rds instance": ("rds", "db:"),
    "rds snapshot": ("rds", "snapshot:"),
}

# Errors that say "not allowed", never "not there": no name rule after one of these.
ACCESS_ERRORS = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403",
     "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken"}
)  # fmt: skip
ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError)


def code_of(err: Exception) -> str:
    return error_code(err, type(err).__name__)  # not a ClientError: e.g. an emulator answering with an HTML page


def tags_of(pairs: Iterable[dict] | dict | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return pairs
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value", "")) for p in pairs or []}


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc


def paginate(client, operation: str, key: str, **kwargs) -> list:
    out = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out += page.get(key, [])
    return out


@dataclass
class Found:
    kind: str
    name: str
    lesson: str
    delete: Callable[[], str | None]  # returns a note for the report, or raises
    pending: bool = False  # AWS is still working on it: report as pending, not deleted
    detail: str = ""


class Run:
    def __init__(
        self,
        session: boto3.session.Session,
        lesson: str | None,
        dry_run: bool,
        use_tagging_api: bool,
        wait_seconds: float = 120.0,
        name_rule: bool = False,
        only: Collection[tuple[str, str]] | None = None,
    ):
        self.session = session
        self.only = None if only is None else set(only)  # (kind, name): what a confirmed listing showed
        self.name_rule = name_rule  # an emulator whose tag calls may be missing: the name rule may stand in
        self.lesson = lesson
        self.dry_run = dry_run
        self.wait_seconds = wait_seconds
        self.region = session.region_name or "us-east-1"
        self.report = CleanupReport(self.region, dry_run, lesson)
        self._clients: dict[str, object] = {}
        self._found: dict[str, list[Found]] = {}
        self._tagged: dict[str, list[tuple[str, dict]]] | None = None
        self._tagging_host = ""
        if use_tagging_api:
            self._load_tagging_api()

    def client(self, name: str):
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    # -- matching

    def wanted(self, tags: dict[str, str]) -> str | None:
        """The lesson value if these tags mark a resource to delete, else None."""
        if TAG_KEY not in tags:
            return None
        value = tags[TAG_KEY]
        return value if self.lesson is None or value == self.lesson else None

    def name_prefix(self) -> str:
        if self.lesson is None:
            return NAME_PREFIX
        return f"{NAME_PREFIX}{self.lesson.split('-', 1)[0]}-"

    def by_name(self, name: str) -> str | None:
        return "(by name)" if name.startswith(self.name_prefix()) else None

    def tags_or_name(self, kind: str, name: str, read_tags: Callable[[], dict[str, str]]) -> tuple[str | None, str]:
        """(lesson or None, how it was found) from the resource's tags; the name rule only where it may stand in.

        The name rule stands in for a tag call only on an emulator (``name_rule``) that lacks the call.
        An access error (AccessDenied, ...) never falls back to the name: the resource is left alone and
        reported, since a resource whose tags cannot be read may be someone else's.
        """
        try:
            return self.wanted(read_tags()), ""
        except ERRORS as err:
            code = code_of(err) or type(err).__name__
            if not self.name_rule or code in ACCESS_ERRORS:
                if name.startswith(self.name_prefix()):
                    self.add(NOT_LISTED, kind, name, detail=f"its tags could not be read ({code}): left alone")
                return None, ""
            return self.by_name(name), f"found by name (no {kind} tags on this backend)"

    # -- the Tagging API

    def _load_tagging_api(self) -> None:
        tagging = self.client("resourcegroupstaggingapi")
        tag_filter = {"Key": TAG_KEY, **({"Values": [self.lesson]} if self.lesson else {})}
        found: dict[str, list[tuple[str, dict]]] = {}
        try:
            for page in tagging.get_paginator("get_resources").paginate(TagFilters=[tag_filter]):
                for item in page.get("ResourceTagMappingList", []):
                    service = item["ResourceARN"].split(":")[2]
                    found.setdefault(service, []).append((item["ResourceARN"], tags_of(item.get("Tags"))))
        except ERRORS:
            return  # not on this backend: every service is listed on its own
        self._tagged = found
        self._tagging_host = _host(tagging.meta.endpoint_url)

    def tagging_covers(self, service: str) -> bool:
        """True if the Tagging API answered and it and the service are both AWS's own endpoints.

        An emulator's Tagging API may know fewer services than AWS's (MiniStack's misses log groups,
        and the embedded backend's EC2 lives in a second server), so emulators are listed service by service.
        """
        if self._tagged is None:
            return False
        host = _host(self.client(service).meta.endpoint_url)
        return all(h.endswith((".amazonaws.com", ".amazonaws.com.cn")) for h in (host, self._tagging_host))

    def from_tagging(self, kind: str) -> list[tuple[str, str]] | None:
        """(resource part of the ARN, lesson) for this kind, or None if the Tagging API does not cover it here."""
        service, prefix = TAGGING_TYPES[kind]
        if not self.tagging_covers(service):
            return None
        out = []
        for arn, tags in (self._tagged or {}).get(service, []):
            resource = arn.split(":", 5)[5]
            lesson = self.wanted(tags)
            if lesson is None or not resource.startswith(prefix):
                continue
            resource = resource[len(prefix) :]
            if kind == "s3 bucket" and "/" in resource:
                continue
            if kind == "log group":
                resource = resource.removesuffix(":*")
            out.append((resource, lesson))
        return out

    # -- running

    def add(self, status: str, kind: str, name: str, lesson: str = "", detail: str = "") -> None:
        self.report.entries.append(Entry(status, kind, name, lesson, detail))

    def find(self, kind: str, finder: Callable[[Run], list[Found]]) -> list[Found]:
        """What ``finder`` finds, listed once per run: a later step that needs it gets the same list.

        (The event source mappings and log groups go with the functions found for them.)
        """
        if kind not in self._found:
            try:
                self._found[kind] = finder(self)
            except ERRORS as err:
                self.add(NOT_LISTED, kind, "(not checked)", detail=code_of(err))
                self._found[kind] = []
        return self._found[kind]

    def delete(self, items: list[Found], retry_on: str | None = None) -> list[Found]:
        """Delete each; return the ones that failed with ``retry_on`` (to try again after the others)."""
        again = []
        for item in items:
            if self.dry_run:
                self.add(WOULD_DELETE, item.kind, item.name, item.lesson, item.detail)
                continue
            if not self.may_delete(item):
                self.add(LEFT, item.kind, item.name, item.lesson, "not in the list you confirmed")
                continue
            try:
                note = item.delete()
            except ERRORS as err:
                if retry_on and code_of(err) == retry_on:
                    again.append(item)
                    continue
                self.add(FAILED, item.kind, item.name, item.lesson, code_of(err))
                continue
            status = PENDING if item.pending or (note or "").startswith(("disabled", "still ")) else DELETED
            self.add(status, item.kind, item.name, item.lesson, note or item.detail)
        return again

    def may_delete(self, item: Found) -> bool:
        """False for what a confirmed listing did not show (made since): it is left, never deleted unseen."""
        return self.only is None or (item.kind, item.name) in self.only

    def delete_with_retries(self, items: list[Found], code: str = "DependencyViolation", passes: int = 3) -> None:
        """Delete a group whose members may depend on each other (security groups referencing each other)."""
        for _ in range(passes - 1):
            items = self.delete(items, retry_on=code)
            if not items:
                return
        self.delete(items)


def tagged_by_api_or_listing(
    run: Run, kind: str, listing: Callable[[], Iterable[tuple[str, dict[str, str]]]]
) -> list[tuple[str, str]]:
    """(name, lesson) pairs: from the Tagging API where it covers the kind here, else from listing + tag calls."""
    from_api = run.from_tagging(kind)
    if from_api is not None:
        return from_api
    out = []
    for name, tags in listing():
        lesson = run.wanted(tags)
        if lesson is not None:
            out.append((name, lesson))
    return out


# ----------------------------------------------------------------------------- EC2, shared by compute and network


def ec2_filters(run: Run) -> list[dict]:
    if run.lesson:
        return [{"Name": f"tag:{TAG_KEY}", "Values": [run.lesson]}]
    return [{"Name": "tag-key", "Values": [TAG_KEY]}]


def ec2_simple(kind: str, describe: str, key: str, id_key: str, delete: str, **extra) -> Callable[[Run], list[Found]]:
    """A finder for an EC2 type that is deleted with one call taking its id (``id_key`` names both)."""

    def finder(run: Run) -> list[Found]:
        ec2 = run.client("ec2")
        items = paginate(ec2, describe, key, Filters=ec2_filters(run), **extra)
        return [
            Found(
                kind,
                item[id_key],
                tags_of(item.get("Tags"))[TAG_KEY],
                lambda i=item[id_key]: getattr(ec2, delete)(**{id_key: i}) and None,
            )
            for item in items
        ]

    return finder


# ----------------------------------------------------------------------------- the steps


def plainly(run: Run, items: list[Found]) -> None:
    run.delete(items)


def with_retries(run: Run, items: list[Found]) -> None:
    """Retry the ones that fail with DependencyViolation after the others (groups referring to each other)."""
    run.delete_with_retries(items)


class Step(NamedTuple):
    """One row of ``labkit.ops.ORDER``: what kind, how it is found, how what was found is deleted."""

    kind: str
    finder: Callable[[Run], list[Found]]
    how: Callable[[Run, list[Found]], None]
