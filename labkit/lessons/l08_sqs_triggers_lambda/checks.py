"""Checks for 08-sqs-triggers-lambda: they read the learner's real mapping, queue and function logs."""

from __future__ import annotations

import boto3

from labkit.aws.lambdas import log_records
from labkit.aws.sqs import queue_depth
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, suffix_of


def _mapping(queue_url: str | None, function_name: str | None):
    """(mapping, queue_arn, None) or (None, None, hint)."""
    if not queue_url or not function_name or "..." in queue_url or "..." in function_name:
        return None, None, hint("set exercise_queue_url and the function name first")
    sqs = boto3.client("sqs")
    try:
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    except sqs.exceptions.QueueDoesNotExist:
        return None, None, hint(f"there is no queue at {queue_url}: create it with sqs.create_queue(...)")
    awslambda = boto3.client("lambda")
    found = awslambda.list_event_source_mappings(EventSourceArn=arn).get("EventSourceMappings", [])
    mine = [m for m in found if m.get("FunctionArn", "").split(":")[-1] == function_name.split(":")[-1]]
    if not mine:
        return (
            None,
            None,
            hint(
                f"no event source mapping from {arn.split(':')[-1]} to {function_name}: "
                "create one with awslambda.create_event_source_mapping(EventSourceArn=..., FunctionName=...)"
            ),
        )
    return mine[0], arn, None


@exercise(1, "your own mapping", looks_for="queue labkit-08-exercise-<suffix>")
def batch_settings(queue_url: str, function_name: str, *, batch_size: int = 3, max_concurrency: int = 2) -> Result:
    """A mapping with these settings exists, the queue was drained, and no batch was bigger than batch_size."""
    mapping, arn, problem = _mapping(queue_url, function_name)
    if problem is not None:
        return problem
    if mapping.get("BatchSize") != batch_size:
        return hint(f"the mapping's BatchSize is {mapping.get('BatchSize')}: set BatchSize={batch_size}")
    concurrency = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if concurrency != max_concurrency:
        return hint(
            f"the mapping's MaximumConcurrency is {concurrency}: "
            f"pass ScalingConfig={{'MaximumConcurrency': {max_concurrency}}}"
        )
    if mapping.get("State") not in ("Enabled", "Enabling", "Creating", "Updating"):
        return hint(f"the mapping is {mapping.get('State')}: enable it (Enabled=True)")
    queue_name = arn.split(":")[-1]
    batches = [r for r in log_records(function_name, "BATCH") if r.get("queue") == queue_name]
    if not batches:
        return hint(
            f"the mapping is right, but {function_name} has not logged a batch from {queue_name} yet: "
            "send some messages and wait a few seconds"
        )
    sizes = [len(r.get("messages", [])) for r in batches]
    if max(sizes) > batch_size:
        return hint(f"a batch of {max(sizes)} messages arrived: was the mapping created with another BatchSize first?")
    left = queue_depth(queue_url)
    if left:
        return hint(f"{left} messages are still in {queue_name}: wait a little and run this check again")
    return passed(
        f"{queue_name} → {function_name}: BatchSize {batch_size}, MaximumConcurrency {max_concurrency}; "
        f"{sum(sizes)} messages in {len(sizes)} invocations (sizes {sorted(sizes)})"
    )


@exercise(2, "only the failures", looks_for="queue labkit-08-exercise-<suffix>")
def reports_failures(queue_url: str, function_name: str) -> Result:
    """The mapping reports partial batch failures (FunctionResponseTypes has ReportBatchItemFailures)."""
    mapping, _arn, problem = _mapping(queue_url, function_name)
    if problem is not None:
        return problem
    types = mapping.get("FunctionResponseTypes") or []
    if "ReportBatchItemFailures" not in types:
        return hint(
            f"the mapping's FunctionResponseTypes is {types}: update it with "
            "awslambda.update_event_source_mapping(UUID=..., FunctionResponseTypes=['ReportBatchItemFailures'])"
        )
    return passed("the mapping now retries only the messages the handler lists in batchItemFailures")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("08")


def _exercise_queue(scan: Scan) -> list[tuple[str, str]]:
    """(queue URL, recorder function) of lesson 08's exercise: the recorder has the queue's suffix."""
    found = []
    for name in scan.queues_matching("labkit-08-exercise-{s}"):
        found.append((scan.queues()[name], f"labkit-08-recorder-{suffix_of('labkit-08-exercise-{s}', name)}"))
    return found


@batch_settings.finder
def _batch_settings(scan: Scan) -> list[Candidate]:
    return [
        Candidate(url.rsplit("/", 1)[-1], (url, fn), {"batch_size": 3, "max_concurrency": 2})
        for url, fn in _exercise_queue(scan)
    ]


@reports_failures.finder
def _reports_failures(scan: Scan) -> list[Candidate]:
    return [Candidate(url.rsplit("/", 1)[-1], (url, fn)) for url, fn in _exercise_queue(scan)]
