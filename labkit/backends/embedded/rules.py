"""The AWS rules the embedded server enforces, a lesson teaches or a learner hits: one table, ``RULES``.

Each row: a name, the calls it applies to, the AWS page that states it, and a check that returns
AWS's refusal (error code, message, HTTP status) for a request that breaks it, else None.
``validating.py`` holds MiniStack to them (embedded backend and classroom); ``tests/parity/test_rules.py``
has one test per row: the refused call fails with AWS's code, the nearest valid call succeeds.

Requests come normalised to the JSON protocol's shape (query ``Attribute.1.Name`` → ``Attributes``,
batch entries → ``Entries``). A check that reads the server's state says so in ``needs`` ("queue":
the queue's attributes; "mapping": the mapping an update changes). A value a check cannot read
(not a number, say) is left to MiniStack, which refuses malformed input itself. Standard library
only (it runs in the servers' Python). Codes are AWS's; messages too where AWS's are known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The AWS pages that state the rules.
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest"
CREATE_QUEUE = f"{_SQS}/APIReference/API_CreateQueue.html"
SET_QUEUE_ATTRIBUTES = f"{_SQS}/APIReference/API_SetQueueAttributes.html"
DEAD_LETTER_QUEUES = f"{_SQS}/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html"
RECEIVE_MESSAGE = f"{_SQS}/APIReference/API_ReceiveMessage.html"
CHANGE_VISIBILITY = f"{_SQS}/APIReference/API_ChangeMessageVisibility.html"
SEND_MESSAGE = f"{_SQS}/APIReference/API_SendMessage.html"
SEND_MESSAGE_BATCH = f"{_SQS}/APIReference/API_SendMessageBatch.html"
BUCKET_NAMES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
CREATE_MAPPING = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
SQS_MAPPINGS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
SCALING_CONFIG = "https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html"


@dataclass(frozen=True)
class Request:
    """One call, normalised: ``service`` (sqs, s3, lambda), ``action`` (AWS's operation name), ``params``."""

    service: str
    action: str
    params: Mapping[str, Any]
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    code: str  # the JSON protocol's shape name, e.g. InvalidParameterValue, TooManyEntriesInBatchRequest
    message: str
    status: int = 400


Check = Callable[[Request], "Refusal | None"]


@dataclass(frozen=True)
class Rule:
    name: str  # <service>-<what>: the service is the name's first word
    actions: frozenset[str]
    doc: str  # the AWS page that states the rule
    check: Check
    needs: Callable[[Request], tuple[str, ...]] = lambda _request: ()

    @property
    def service(self) -> str:
        return self.name.split("-", 1)[0]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _attributes(request: Request) -> Mapping[str, Any]:
    attributes = request.params.get("Attributes")
    return attributes if isinstance(attributes, Mapping) else {}


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _queue_is_fifo(request: Request) -> bool:
    """CreateQueue: the FifoQueue attribute; any other call: the queue's URL (a FIFO queue's name ends in .fifo)."""
    if request.action == "CreateQueue":
        return _true(_attributes(request).get("FifoQueue"))
    return str(request.params.get("QueueUrl", "")).rstrip("/").endswith(".fifo")


# --- SQS ------------------------------------------------------------------------------------

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")  # the .fifo suffix counts in the 80


def _queue_name(request: Request) -> Refusal | None:
    name = str(request.params.get("QueueName", ""))
    if not name or _queue_is_fifo(request) or _QUEUE_NAME.fullmatch(name):
        return None  # an empty name is MiniStack's MissingParameter
    return Refusal(
        "InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    )


def _fifo_queue_name(request: Request) -> Refusal | None:
    name = str(request.params.get("QueueName", ""))
    if not name or not _queue_is_fifo(request) or _FIFO_QUEUE_NAME.fullmatch(name):
        return None
    return Refusal(
        "InvalidParameterValue",
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
        "must end with .fifo suffix and be 1 to 80 in length.",
    )


QUEUE_ATTRIBUTE_RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),  # 1 KiB to 1 MiB (the maximum and the default since 2025)
    "MessageRetentionPeriod": (60, 1_209_600),  # 1 minute to 14 days
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),  # 12 hours
}


def _attribute_ranges(request: Request) -> Refusal | None:
    for name, value in _attributes(request).items():
        if name in QUEUE_ATTRIBUTE_RANGES:
            low, high = QUEUE_ATTRIBUTE_RANGES[name]
            number = _int(value)
            if number is None or not low <= number <= high:
                return Refusal("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
    return None


def _redrive_policy(request: Request) -> tuple[str, dict[str, Any]] | None:
    raw = _attributes(request).get("RedrivePolicy")
    if not raw:
        return None  # absent, or "" (which removes the policy)
    try:
        policy = json.loads(str(raw))
    except ValueError:
        return None
    return (str(raw), policy) if isinstance(policy, dict) else None


def _max_receive_count(request: Request) -> Refusal | None:
    found = _redrive_policy(request)
    if found is None or "maxReceiveCount" not in found[1]:
        return None
    raw, policy = found
    count = _int(policy["maxReceiveCount"])
    if count is not None and 1 <= count <= 1000:
        return None
    return Refusal(
        "InvalidParameterValue",
        f"Value {raw} for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: "
        f"{policy['maxReceiveCount']}, valid values are from 1 to 1000 both inclusive.",
    )


def _dead_letter_queue_type(request: Request) -> Refusal | None:
    found = _redrive_policy(request)
    if found is None or not isinstance(found[1].get("deadLetterTargetArn"), str):
        return None
    raw, policy = found
    if policy["deadLetterTargetArn"].endswith(".fifo") == _queue_is_fifo(request):
        return None
    return Refusal(
        "InvalidParameterValue",
        f"Value {raw} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue "
        "as the source..",
    )


def _in_range(parameter: str, low: int, high: int) -> Check:
    def check(request: Request) -> Refusal | None:
        if parameter not in request.params:
            return None
        number = _int(request.params[parameter])
        if number is None or low <= number <= high:
            return None
        return Refusal(
            "InvalidParameterValue",
            f"Value {number} for parameter {parameter} is invalid. "
            f"Reason: Must be between {low} and {high}, if provided.",
        )

    return check


def _entries(request: Request) -> list[Any]:
    entries = request.params.get("Entries")
    return entries if isinstance(entries, list) else []


def _batch_not_empty(request: Request) -> Refusal | None:
    empty = Refusal("EmptyBatchRequest", "There should be at least one batch entry in the request.")
    return None if _entries(request) else empty


def _batch_at_most_ten(request: Request) -> Refusal | None:
    count = len(_entries(request))
    too_many = Refusal(
        "TooManyEntriesInBatchRequest", f"Maximum number of entries per request are 10. You have sent {count}."
    )
    return None if count <= 10 else too_many


def _batch_distinct_ids(request: Request) -> Refusal | None:
    seen: set[str] = set()
    for entry in _entries(request):
        entry_id = str(entry.get("Id", "")) if isinstance(entry, Mapping) else ""
        if entry_id in seen:
            return Refusal("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return None


def _fifo_group_id(request: Request) -> Refusal | None:
    missing = Refusal("MissingParameter", "The request must contain the parameter MessageGroupId.")
    return missing if _queue_is_fifo(request) and not request.params.get("MessageGroupId") else None


def _needs_queue_for_dedup(request: Request) -> tuple[str, ...]:
    fifo_without_id = _queue_is_fifo(request) and not request.params.get("MessageDeduplicationId")
    return ("queue",) if fifo_without_id else ()


def _fifo_deduplication(request: Request) -> Refusal | None:
    queue = request.facts.get("queue")
    if queue is None or not _needs_queue_for_dedup(request) or _true(queue.get("ContentBasedDeduplication")):
        return None
    return Refusal(
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    )


# --- S3 -------------------------------------------------------------------------------------

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
# --x-s3 is not here: it is how a directory bucket's name ends, and CreateBucket makes one.
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--table-s3")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")  # "formatted as an IP address", e.g. 192.168.5.4
_INVALID_BUCKET = Refusal("InvalidBucketName", "The specified bucket is not valid.")


def _bucket_name(request: Request) -> Refusal | None:
    name = str(request.params.get("Bucket", ""))
    valid = _BUCKET_NAME.fullmatch(name) and ".." not in name and not _IP_ADDRESS.fullmatch(name)
    return None if valid else _INVALID_BUCKET


def _reserved_bucket_name(request: Request) -> Refusal | None:
    name = str(request.params.get("Bucket", ""))
    reserved = name.startswith(RESERVED_BUCKET_PREFIXES) or name.endswith(RESERVED_BUCKET_SUFFIXES)
    return _INVALID_BUCKET if reserved else None


# --- Lambda event source mappings for SQS ----------------------------------------------------


def _mapping(request: Request) -> dict[str, Any] | None:
    """The mapping as it would be after this call (an update merges into the stored one); None if not SQS."""
    merged = {**request.facts.get("mapping", {}), **request.params}
    return merged if ":sqs:" in str(merged.get("EventSourceArn", "")) else None


def _needs_mapping(request: Request) -> tuple[str, ...]:
    return ("mapping",) if request.action == "UpdateEventSourceMapping" else ()


def _model_range(parameter: str, wire: str, low: int, high: int) -> Check:
    """A range in Lambda's API model: refused with ValidationException (botocore checks only the minimum)."""

    def check(request: Request) -> Refusal | None:
        mapping = _mapping(request)
        value = (mapping or {}).get(parameter)
        if isinstance(value, Mapping):  # ScalingConfig.MaximumConcurrency
            value = value.get("MaximumConcurrency")
        number = _int(value) if value is not None else None
        if mapping is None or number is None or low <= number <= high:
            return None
        bound = f"greater than or equal to {low}" if number < low else f"less than or equal to {high}"
        return Refusal(
            "ValidationException",
            f"1 validation error detected: Value '{number}' at '{wire}' failed to satisfy constraint: Member must have "
            f"value {bound}",
        )

    return check


def _batch_size(mapping: Mapping[str, Any]) -> int:
    return _int(mapping.get("BatchSize", 10)) or 10


def _window(mapping: Mapping[str, Any]) -> int:
    return _int(mapping.get("MaximumBatchingWindowInSeconds", 0)) or 0


def _is_fifo_source(mapping: Mapping[str, Any]) -> bool:
    return str(mapping.get("EventSourceArn", "")).endswith(".fifo")


def _big_batch_needs_window(request: Request) -> Refusal | None:
    mapping = _mapping(request)
    if mapping is None or _is_fifo_source(mapping) or _batch_size(mapping) <= 10 or _window(mapping) >= 1:
        return None
    return Refusal(
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    )


def _fifo_batch_size(request: Request) -> Refusal | None:
    mapping = _mapping(request)
    if mapping is None or not _is_fifo_source(mapping) or _batch_size(mapping) <= 10:
        return None
    return Refusal("InvalidParameterValueException", "Batch size for an SQS FIFO queue must be between 1 and 10.")


def _fifo_no_window(request: Request) -> Refusal | None:
    mapping = _mapping(request)
    if mapping is None or not _is_fifo_source(mapping) or _window(mapping) == 0:
        return None
    return Refusal("InvalidParameterValueException", "Batching window is not supported for FIFO queues")


# --- the table --------------------------------------------------------------------------------

_CREATE = frozenset({"CreateQueue"})
_WRITES = frozenset({"CreateQueue", "SetQueueAttributes"})
_RECEIVE = frozenset({"ReceiveMessage"})
_SEND = frozenset({"SendMessage"})
_BATCHES = frozenset({"SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"})
_BUCKET = frozenset({"CreateBucket"})
_MAPS = frozenset({"CreateEventSourceMapping", "UpdateEventSourceMapping"})
_BATCH_SIZE = _model_range("BatchSize", "batchSize", 1, 10_000)
_WINDOW = _model_range("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300)
_CONCURRENCY = _model_range("ScalingConfig", "scalingConfig.maximumConcurrency", 2, 1000)

RULES: tuple[Rule, ...] = (
    Rule("sqs-queue-name", _CREATE, CREATE_QUEUE, _queue_name),
    Rule("sqs-fifo-queue-name", _CREATE, CREATE_QUEUE, _fifo_queue_name),
    Rule("sqs-queue-attribute-ranges", _WRITES, SET_QUEUE_ATTRIBUTES, _attribute_ranges),
    Rule("sqs-max-receive-count", _WRITES, DEAD_LETTER_QUEUES, _max_receive_count),
    Rule("sqs-dead-letter-queue-type", _WRITES, DEAD_LETTER_QUEUES, _dead_letter_queue_type),
    Rule("sqs-receive-max-messages", _RECEIVE, RECEIVE_MESSAGE, _in_range("MaxNumberOfMessages", 1, 10)),
    Rule("sqs-receive-wait-time", _RECEIVE, RECEIVE_MESSAGE, _in_range("WaitTimeSeconds", 0, 20)),
    Rule(
        "sqs-visibility-timeout",
        frozenset({"ReceiveMessage", "ChangeMessageVisibility"}),
        CHANGE_VISIBILITY,
        _in_range("VisibilityTimeout", 0, 43_200),
    ),
    Rule("sqs-message-delay", _SEND, SEND_MESSAGE, _in_range("DelaySeconds", 0, 900)),
    Rule("sqs-batch-not-empty", _BATCHES, SEND_MESSAGE_BATCH, _batch_not_empty),
    Rule("sqs-batch-at-most-ten", _BATCHES, SEND_MESSAGE_BATCH, _batch_at_most_ten),
    Rule("sqs-batch-distinct-ids", _BATCHES, SEND_MESSAGE_BATCH, _batch_distinct_ids),
    Rule("sqs-fifo-message-group", _SEND, SEND_MESSAGE, _fifo_group_id),
    Rule("sqs-fifo-deduplication", _SEND, SEND_MESSAGE, _fifo_deduplication, _needs_queue_for_dedup),
    Rule("s3-bucket-name", _BUCKET, BUCKET_NAMES, _bucket_name),
    Rule("s3-reserved-bucket-name", _BUCKET, BUCKET_NAMES, _reserved_bucket_name),
    Rule("lambda-sqs-batch-size-range", _MAPS, CREATE_MAPPING, _BATCH_SIZE, _needs_mapping),
    Rule("lambda-sqs-batching-window-range", _MAPS, CREATE_MAPPING, _WINDOW, _needs_mapping),
    Rule("lambda-sqs-batch-over-ten-needs-window", _MAPS, CREATE_MAPPING, _big_batch_needs_window, _needs_mapping),
    Rule("lambda-sqs-fifo-batch-size", _MAPS, SQS_MAPPINGS, _fifo_batch_size, _needs_mapping),
    Rule("lambda-sqs-fifo-no-batching-window", _MAPS, SQS_MAPPINGS, _fifo_no_window, _needs_mapping),
    Rule("lambda-sqs-maximum-concurrency", _MAPS, SCALING_CONFIG, _CONCURRENCY, _needs_mapping),
)

ACTIONS: frozenset[tuple[str, str]] = frozenset((rule.service, action) for rule in RULES for action in rule.actions)


def applying(request: Request) -> list[Rule]:
    return [rule for rule in RULES if rule.service == request.service and request.action in rule.actions]


def needs(request: Request) -> set[str]:
    """What the rules for this request need looked up first ("queue", "mapping")."""
    return {fact for rule in applying(request) for fact in rule.needs(request)}


def refusal(request: Request) -> tuple[Rule, Refusal] | None:
    """The first rule (in table order) this request breaks, with AWS's refusal; None if it breaks none."""
    for rule in applying(request):
        refused = rule.check(request)
        if refused is not None:
            return rule, refused
    return None
