"""Lesson 12's helpers around the stack: read the template, zip the consumer, show events, account for orders.

The CloudFormation calls (create_stack, change sets, delete_stack) and the pipeline's calls are in the
notebook and in ``notebooks/capstone/``; these only read, draw and count.

``load_template`` reads CloudFormation YAML with its short forms (``!Ref``, ``!Sub``, ``!GetAtt`` ...) into
the JSON form, so a cell can add a resource and send the result as ``TemplateBody`` (CloudFormation takes
JSON as well as YAML). PyYAML's ``safe_load`` refuses those tags; cfn-lint's decoder reads them but is a
heavy dependency for the learner's kernel, so this is a dozen lines of our own.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from labkit.aws.tally import TallyReport

_SHORT_FORMS = ("Ref", "Condition")
_FN_FORMS = ("Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
             "Base64", "Cidr", "GetAZs", "ImportValue")  # fmt: skip


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name if name in _SHORT_FORMS else f"Fn::{name}": value}

    return construct


for _name in (*_SHORT_FORMS, *_FN_FORMS):
    _CfnLoader.add_constructor(f"!{_name}", _construct(_name))


def load_template(path: str | Path) -> dict[str, Any]:
    """A CloudFormation YAML template as a dict in the JSON form (``!Ref X`` → ``{"Ref": "X"}``)."""
    loaded = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_CfnLoader)  # SafeLoader + tags
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return loaded


def code_package(*files: str | Path) -> tuple[bytes, str]:
    """(zip bytes, key) for the consumer's files; the key names the content, so new code gets a new key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            info = zipfile.ZipInfo(Path(file).name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, Path(file).read_bytes())
    data = buffer.getvalue()
    return data, f"consumer-{hashlib.sha256(data).hexdigest()[:12]}.zip"


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    """A described stack's outputs as {key: value}."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@dataclass(frozen=True)
class StackEvent:
    seconds: float  # since the first event shown
    resource: str
    kind: str
    status: str
    reason: str


def event_timeline(events: Iterable[dict[str, Any]], since: datetime | None = None) -> list[StackEvent]:
    """describe_stack_events (newest first, as AWS returns them) as a timeline, oldest first."""
    chosen = sorted((e for e in events if since is None or e["Timestamp"] >= since), key=lambda e: e["Timestamp"])
    if not chosen:
        return []
    t0 = chosen[0]["Timestamp"]
    return [
        StackEvent(
            (e["Timestamp"] - t0).total_seconds(),
            e["LogicalResourceId"],
            e["ResourceType"],
            e["ResourceStatus"],
            e.get("ResourceStatusReason") or "",
        )
        for e in chosen
    ]


def timeline_text(timeline: list[StackEvent]) -> str:
    """The timeline as lines: offset, resource, type, status (and a reason where there is one)."""
    width = max((len(e.resource) for e in timeline), default=8)
    return "\n".join(
        f"{e.seconds:6.2f} s  {e.resource:<{width}}  {e.kind:<34} {e.status}" + (f"  ({e.reason})" if e.reason else "")
        for e in timeline
    )


def plot_events(timeline: list[StackEvent], title: str = "stack events"):
    """One bar per resource, from its first *_IN_PROGRESS to its *_COMPLETE (or failure) event."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spans: dict[str, list[float]] = {}
    for e in timeline:
        spans.setdefault(e.resource, [e.seconds, e.seconds])[1] = e.seconds
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(spans) + 1.2))
    for row, (start, end) in enumerate(spans.values()):
        ax.barh(row, max(end - start, 0.02), left=start, color="#4c78a8")
    ax.set_yticks(range(len(spans)), list(spans))
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first event")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def orders_report(
    sent: list[dict[str, Any]], items: list[dict[str, Any]], in_dlq: list[str], in_queue: int, send_calls: int
) -> TallyReport:
    """Where every queued order event ended up: applied to its order, in the DLQ, or still in the queue.

    ``sent`` are the distinct events the receiver queued, ``items`` the orders table (DynamoDB JSON),
    ``in_dlq`` the bodies in the dead-letter queue, ``in_queue`` the source queue's visible + in-flight depth.
    An event is stored when its seq is in its order's ``history``; one seen there twice was applied twice.
    """
    history = {i["order_id"]["S"]: [int(s["N"]) for s in i.get("history", {}).get("L", [])] for i in items}
    dead = set(in_dlq)
    stored = twice = 0
    missing = []
    for event in sent:
        seqs = history.get(str(event.get("order_id")), [])
        if isinstance(event.get("seq"), int) and event["seq"] in seqs:
            stored += 1
            twice += seqs.count(event["seq"]) > 1
        elif event["body"] not in dead:
            missing.append(event["body"])
    dlq = sum(1 for e in sent if e["body"] in dead)
    unaccounted = max(0, len(missing) - in_queue)  # what is still in the queue cannot be named without consuming
    return TallyReport(
        send_calls=send_calls,
        distinct=len(sent),
        deduplicated=send_calls - len(sent),
        processed=stored,
        processed_twice=twice,
        in_queues={k: v for k, v in (("the DLQ", dlq), ("the orders queue", min(in_queue, len(missing)))) if v},
        missing=missing[:unaccounted] if unaccounted else [],
    )
