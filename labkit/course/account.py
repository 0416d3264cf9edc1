"""The account view: everything on the learner's backend, by lesson tag and service, with live state.

The closest thing here to the AWS console's resource lists: one look at the backend (a
:class:`labkit.course.scan.Scan`, the listings ``labkit progress`` uses) that finds queues (with
their depth: visible, in flight), functions and their event source mappings, tables, buckets,
topics, CloudWatch alarms (with their state) and dashboards, IAM roles and CloudFormation stacks (with
their status), each under the ``labkit:lesson`` tag it carries ("untagged" when none). A service the
backend cannot list is named as such, never hidden.

``account_view(lesson=...)`` keeps one lesson's resources; ``str(view)`` is the text for a terminal and
nbval, ``view._repr_html_()`` the table JupyterLab shows; ``view.refresh()`` looks again. Used by lessons
00 and 12 and by ``labkit status --resources``. Scanning (``scan_account``) and drawing (``AccountView``)
are apart, so the drawing is tested without a backend.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from labkit.course.scan import Scan, tag_value

UNTAGGED = "untagged"


@dataclass(frozen=True)
class Resource:
    """One thing on the backend: its service, kind, name, the lesson tag it carries, and its live state."""

    service: str
    kind: str
    name: str
    lesson: str = UNTAGGED
    state: str = ""


def _tags(call: Callable[..., Any], key: str, **kwargs: Any) -> str:
    """The labkit:lesson tag in ``call(**kwargs)[key]``; UNTAGGED when there is none or it cannot be read."""
    try:
        return tag_value(call(**kwargs)[key]) or UNTAGGED
    except (botocore.exceptions.ClientError, KeyError):
        return UNTAGGED


def _queues(scan: Scan) -> Iterable[Resource]:
    for name in sorted(scan.queues()):
        attributes = scan.queue_attributes(name)
        if not attributes:  # deleted since the listing
            continue
        state = (
            f"{attributes.get('ApproximateNumberOfMessages', '?')} visible, "
            f"{attributes.get('ApproximateNumberOfMessagesNotVisible', '?')} in flight"
        )
        yield Resource("sqs", "queue", name, scan.queue_lesson(name) or UNTAGGED, state)


def _functions(scan: Scan) -> Iterable[Resource]:
    awslambda = scan.client("lambda")
    for function in sorted(scan.functions(), key=lambda f: f["FunctionName"]):
        lesson = scan.function_lesson(function) or UNTAGGED
        yield Resource("lambda", "function", function["FunctionName"], lesson, function.get("Runtime", ""))
        mappings = awslambda.list_event_source_mappings(FunctionName=function["FunctionName"])
        for mapping in mappings.get("EventSourceMappings", []):
            source = mapping.get("EventSourceArn", "").rsplit(":", 1)[-1]
            state = f"{mapping.get('State', '?')}, batch {mapping.get('BatchSize', '?')}"
            yield Resource("lambda", "mapping", f"{source} → {function['FunctionName']}", lesson, state)


def _tables(scan: Scan) -> Iterable[Resource]:
    for name in sorted(scan.tables()):
        try:
            lesson = scan.table_lesson(name) or UNTAGGED
        except botocore.exceptions.ClientError:  # deleted since the listing
            continue
        yield Resource("dynamodb", "table", name, lesson)


def _buckets(scan: Scan) -> Iterable[Resource]:
    s3 = scan.client("s3")
    for name in sorted(scan.buckets()):
        yield Resource("s3", "bucket", name, _tags(s3.get_bucket_tagging, "TagSet", Bucket=name))


def _topics(scan: Scan) -> Iterable[Resource]:
    for name, arn in sorted(scan.topics().items()):
        yield Resource("sns", "topic", name, scan.topic_lesson(arn) or UNTAGGED)


def _alarms(scan: Scan) -> Iterable[Resource]:
    cloudwatch = scan.client("cloudwatch")
    for alarm in scan.pages("cloudwatch", "describe_alarms", "MetricAlarms"):
        arn = alarm["AlarmArn"]
        lesson = _tags(cloudwatch.list_tags_for_resource, "Tags", ResourceARN=arn)
        yield Resource("cloudwatch", "alarm", alarm["AlarmName"], lesson, alarm.get("StateValue", ""))
    for board in scan.pages("cloudwatch", "list_dashboards", "DashboardEntries"):
        arn = board.get("DashboardArn", "")
        lesson = _tags(cloudwatch.list_tags_for_resource, "Tags", ResourceARN=arn) if arn else UNTAGGED
        yield Resource("cloudwatch", "dashboard", board["DashboardName"], lesson)


def _roles(scan: Scan) -> Iterable[Resource]:
    iam = scan.client("iam")
    for role in scan.pages("iam", "list_roles", "Roles"):
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        name = role["RoleName"]
        yield Resource("iam", "role", name, _tags(iam.list_role_tags, "Tags", RoleName=name))


def _stacks(scan: Scan) -> Iterable[Resource]:
    for stack in scan.pages("cloudformation", "describe_stacks", "Stacks"):
        if stack.get("StackStatus") == "DELETE_COMPLETE":
            continue
        lesson = tag_value(stack.get("Tags", [])) or UNTAGGED
        yield Resource("cloudformation", "stack", stack["StackName"], lesson, stack.get("StackStatus", ""))


# One row per service: what it lists. Order is the order shown.
LISTERS: tuple[tuple[str, Callable[[Scan], Iterable[Resource]]], ...] = (
    ("cloudformation", _stacks),
    ("sqs", _queues),
    ("lambda", _functions),
    ("dynamodb", _tables),
    ("s3", _buckets),
    ("sns", _topics),
    ("cloudwatch", _alarms),
    ("iam", _roles),
)


@dataclass
class AccountView:
    """What :func:`scan_account` found (state), rendered as text and HTML (view); ``refresh()`` looks again."""

    resources: list[Resource] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # service → why it could not be listed
    lesson: str | None = None
    scanner: Callable[[], AccountView] | None = field(default=None, repr=False, compare=False)

    def refresh(self) -> AccountView:
        if self.scanner is not None:
            fresh = self.scanner()
            self.resources, self.unavailable = fresh.resources, fresh.unavailable
        return self

    def by_lesson(self) -> dict[str, dict[str, list[Resource]]]:
        """{lesson tag: {service: [resources]}}, tagged lessons first (sorted), untagged last."""
        grouped: dict[str, dict[str, list[Resource]]] = {}
        for r in sorted(self.resources, key=lambda r: (r.lesson == UNTAGGED, r.lesson)):
            grouped.setdefault(r.lesson, {}).setdefault(r.service, []).append(r)
        return grouped

    def __len__(self) -> int:
        return len(self.resources)

    def summary(self) -> str:
        scope = f"tagged {self.lesson}" if self.lesson else "on this backend"
        if not self.resources:
            return f"nothing {scope}"
        services = sorted({r.service for r in self.resources})
        return f"{len(self.resources)} resources {scope} in {len(services)} services ({', '.join(services)})"

    def __str__(self) -> str:
        lines = [self.summary()]
        for lesson, services in self.by_lesson().items():
            lines.append(f"{lesson}:")
            for service, found in services.items():
                for r in found:
                    lines.append(f"  {service:<14} {r.kind:<9} {r.name}" + (f"  [{r.state}]" if r.state else ""))
        lines += [f"(could not list {service}: {why})" for service, why in self.unavailable.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = []
        for lesson, services in self.by_lesson().items():
            rows.append(f'<tr><th colspan="4" style="text-align:left">{html.escape(lesson)}</th></tr>')
            for service, found in services.items():
                for r in found:
                    cells = (service, r.kind, r.name, r.state)
                    rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        missing = "".join(
            f"<p><em>could not list {html.escape(s)}: {html.escape(why)}</em></p>"
            for s, why in self.unavailable.items()
        )
        head = "<tr><th>service</th><th>kind</th><th>name</th><th>state</th></tr>"
        table = f"<table>{head}{''.join(rows)}</table>" if rows else ""
        return f"<div><p><strong>{html.escape(self.summary())}</strong></p>{table}{missing}</div>"


def scan_account(lesson: str | None = None, *, scan: Scan | None = None) -> AccountView:
    """One look at every service in LISTERS; ``lesson`` (a tag such as ``12-capstone``) keeps only its things."""
    scan = scan or Scan()
    view = AccountView(lesson=lesson)
    for service, lister in LISTERS:
        try:
            view.resources += [r for r in lister(scan) if lesson is None or r.lesson == lesson]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            code = (
                err.response["Error"]["Code"]
                if isinstance(err, botocore.exceptions.ClientError)
                else type(err).__name__
            )
            view.unavailable[service] = code
    return view


def account_view(lesson: str | None = None) -> AccountView:
    """The account view, refreshable: ``view.refresh()`` scans the backend again."""
    view = scan_account(lesson)
    view.scanner = lambda: scan_account(lesson)
    return view


def terminal_view(
    backend: str | None = None, allow_real_aws: bool = False, lesson: str | None = None
) -> tuple[int, str]:
    """For ``labkit status --resources``: (exit code, text) of the account view of a running backend.

    It connects the way ``labkit progress`` does (never starting an empty backend just to look at it).
    """
    from labkit.course.progress import _connect

    down, _ = _connect(backend, allow_real_aws)
    if down:
        return 1, f"resources: {down}"
    return 0, str(scan_account(lesson))
