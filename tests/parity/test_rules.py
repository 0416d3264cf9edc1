"""AWS's rules that the lessons teach, one test per row of ``labkit.backends.embedded.rules.RULES``.

Each test makes the call AWS refuses and expects AWS's error code, then the nearest valid call
and expects it to succeed, so a backend that accepts too much, or refuses too much, fails. On
the embedded backend labkit's validating layer enforces the rules; elsewhere the backend itself
must. ``ListDeadLetterSourceQueues`` (which labkit answers where MiniStack lacks it) is at the end.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid

import boto3
import botocore.exceptions
import pytest

import labkit.backends
from labkit.aws.lambdas import zip_source
from labkit.backends.embedded.rules import RULES

COVERED: set[str] = set()


def covers(rule: str):
    """Mark a test as the parity test of ``rule`` (a name in RULES)."""
    COVERED.add(rule)
    return aws_rule(rule)


def aws_rule(rule: str):
    """On the embedded backend labkit enforces every rule, so a difference fails. Another emulator
    (LocalStack) holds what it holds: there a difference is a skip that says what the backend did
    instead, as the lessons' Emulator vs AWS tables do."""

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            try:
                return test(*args, **kwargs)
            except (AssertionError, pytest.fail.Exception) as difference:
                if labkit.backends.get(None).name == "embedded":
                    raise
                first = (str(difference).strip().splitlines() or ["differs"])[0]
                pytest.skip(f"this backend does not hold AWS's rule {rule!r}: {first}")

        return run

    return decorate


def refused(call, *args, **kwargs) -> str:
    """The error code of a call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


@pytest.fixture
def sqs(lab):
    return boto3.client("sqs")


@pytest.fixture
def queue(sqs, unique):
    """queue(name, **attributes) creates a queue (deleted afterwards) and returns (url, arn)."""
    made: list[str] = []

    def make(name: str, **attributes) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        made.append(url)
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    yield make
    for url in made:
        with contextlib.suppress(botocore.exceptions.ClientError):
            sqs.delete_queue(QueueUrl=url)


def _redrive(arn: str, count: object = 3) -> str:
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count})


# ---------------------------------------------------------------- SQS queue names and attributes


@covers("sqs-queue-name")
def test_queue_names_are_1_to_80_letters_digits_hyphens_underscores(sqs, queue, unique):
    for bad in (f"bad name {unique}", f"bad!{unique}", "q" * 81, f"standard-{unique}.fifo"):
        assert refused(sqs.create_queue, QueueName=bad) == "InvalidParameterValue", bad
    queue(f"ok_-{unique}".ljust(80, "x"))


@covers("sqs-fifo-queue-name")
def test_a_fifo_queue_needs_the_fifo_suffix_within_80_characters(sqs, queue, unique):
    for name, flag in ((f"fifo-{unique}", "true"), (f"fifo-{unique}", "True"), ("f" * 76 + ".fifo", "true")):
        assert refused(sqs.create_queue, QueueName=name, Attributes={"FifoQueue": flag}) == "InvalidParameterValue"
    queue(f"fifo-{unique}".ljust(75, "x") + ".fifo", FifoQueue="true")


@covers("sqs-queue-attribute-ranges")
def test_queue_attributes_stay_in_their_ranges(sqs, queue, unique):
    ranges = {
        "VisibilityTimeout": (0, 43_200),
        "MessageRetentionPeriod": (60, 1_209_600),
        "DelaySeconds": (0, 900),
        "ReceiveMessageWaitTimeSeconds": (0, 20),
        "MaximumMessageSize": (1024, 1_048_576),
    }
    for name, (low, high) in ranges.items():
        for bad in (low - 1, high + 1):
            code = refused(sqs.create_queue, QueueName=f"range-{unique}", Attributes={name: str(bad)})
            assert code == "InvalidAttributeValue", (name, bad)
    url, _ = queue(f"range-{unique}", **{name: high for name, (_, high) in ranges.items()})
    assert refused(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "43201"}) == (
        "InvalidAttributeValue"
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})


@covers("sqs-max-receive-count")
def test_max_receive_count_is_1_to_1000(sqs, queue, unique):
    _, dlq = queue(f"mrc-dlq-{unique}")
    for bad in (0, 1001):
        code = refused(sqs.create_queue, QueueName=f"mrc-{unique}", Attributes={"RedrivePolicy": _redrive(dlq, bad)})
        assert code == "InvalidParameterValue", bad
    url, _ = queue(f"mrc-{unique}", RedrivePolicy=_redrive(dlq, 1000))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": _redrive(dlq, 1)})


@covers("sqs-dead-letter-queue-type")
def test_a_dead_letter_queue_has_its_source_queues_type(sqs, queue, unique):
    _, standard_dlq = queue(f"type-dlq-{unique}")
    _, fifo_dlq = queue(f"type-dlq-{unique}.fifo", FifoQueue="true")
    fifo_source = {"FifoQueue": "true", "RedrivePolicy": _redrive(standard_dlq)}
    assert refused(sqs.create_queue, QueueName=f"type-{unique}.fifo", Attributes=fifo_source) == "InvalidParameterValue"
    standard_source = {"RedrivePolicy": _redrive(fifo_dlq)}
    assert refused(sqs.create_queue, QueueName=f"type-{unique}", Attributes=standard_source) == "InvalidParameterValue"
    url, _ = queue(f"type-{unique}", RedrivePolicy=_redrive(standard_dlq))
    assert refused(sqs.set_queue_attributes, QueueUrl=url, Attributes=standard_source) == "InvalidParameterValue"
    queue(f"type-{unique}.fifo", FifoQueue="true", RedrivePolicy=_redrive(fifo_dlq))


# ---------------------------------------------------------------- receive, visibility, delay


@pytest.fixture
def with_message(sqs, queue, unique):
    url, _ = queue(f"msg-{unique}")
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    return url


@covers("sqs-receive-max-messages")
def test_receive_takes_1_to_10_messages(sqs, with_message):
    for bad in (0, 11):
        assert refused(sqs.receive_message, QueueUrl=with_message, MaxNumberOfMessages=bad) == "InvalidParameterValue"
    assert len(sqs.receive_message(QueueUrl=with_message, MaxNumberOfMessages=10)["Messages"]) == 1


@covers("sqs-receive-wait-time")
def test_long_polling_waits_at_most_20_seconds(sqs, with_message):
    assert refused(sqs.receive_message, QueueUrl=with_message, WaitTimeSeconds=21) == "InvalidParameterValue"
    assert len(sqs.receive_message(QueueUrl=with_message, WaitTimeSeconds=20)["Messages"]) == 1  # a message is there


@covers("sqs-visibility-timeout")
def test_visibility_timeout_is_at_most_12_hours(sqs, with_message):
    assert refused(sqs.receive_message, QueueUrl=with_message, VisibilityTimeout=43_201) == "InvalidParameterValue"
    handle = sqs.receive_message(QueueUrl=with_message, VisibilityTimeout=43_200)["Messages"][0]["ReceiptHandle"]
    code = refused(sqs.change_message_visibility, QueueUrl=with_message, ReceiptHandle=handle, VisibilityTimeout=43_201)
    assert code == "InvalidParameterValue"
    sqs.change_message_visibility(QueueUrl=with_message, ReceiptHandle=handle, VisibilityTimeout=0)


@covers("sqs-message-delay")
def test_a_message_is_delayed_at_most_15_minutes(sqs, with_message):
    assert (
        refused(sqs.send_message, QueueUrl=with_message, MessageBody="x", DelaySeconds=901) == "InvalidParameterValue"
    )
    sqs.send_message(QueueUrl=with_message, MessageBody="x", DelaySeconds=900)


# ---------------------------------------------------------------- batches


def _entries(count: int, same_id: bool = False) -> list[dict]:
    return [{"Id": "same" if same_id else f"m{i}", "MessageBody": f"body {i}"} for i in range(count)]


@covers("sqs-batch-not-empty")
def test_a_batch_has_at_least_one_entry(sqs, with_message):
    code = refused(sqs.send_message_batch, QueueUrl=with_message, Entries=[])
    assert code == "AWS.SimpleQueueService.EmptyBatchRequest"
    assert len(sqs.send_message_batch(QueueUrl=with_message, Entries=_entries(1))["Successful"]) == 1


@covers("sqs-batch-at-most-ten")
def test_a_batch_has_at_most_ten_entries(sqs, with_message):
    code = refused(sqs.send_message_batch, QueueUrl=with_message, Entries=_entries(11))
    assert code == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    deletes = [{"Id": f"d{i}", "ReceiptHandle": "gone"} for i in range(11)]
    code = refused(sqs.delete_message_batch, QueueUrl=with_message, Entries=deletes)
    assert code == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert len(sqs.send_message_batch(QueueUrl=with_message, Entries=_entries(10))["Successful"]) == 10


@covers("sqs-batch-distinct-ids")
def test_batch_entry_ids_are_distinct(sqs, with_message):
    code = refused(sqs.send_message_batch, QueueUrl=with_message, Entries=_entries(2, same_id=True))
    assert code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert len(sqs.send_message_batch(QueueUrl=with_message, Entries=_entries(2))["Successful"]) == 2


# ---------------------------------------------------------------- FIFO sends


@covers("sqs-fifo-message-group")
def test_a_fifo_send_needs_a_message_group(sqs, queue, unique):
    url, _ = queue(f"group-{unique}.fifo", FifoQueue="true")
    code = refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d1")
    assert code == "MissingParameter"
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d1", MessageGroupId="g")


@covers("sqs-fifo-deduplication")
def test_a_fifo_send_needs_a_deduplication_id_unless_content_based(sqs, queue, unique):
    url, _ = queue(f"dedup-{unique}.fifo", FifoQueue="true")
    assert refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g") == "InvalidParameterValue"
    content_based, _ = queue(f"dedup-cbd-{unique}.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=content_based, MessageBody="x", MessageGroupId="g")


# ---------------------------------------------------------------- S3 bucket names


@pytest.fixture
def bucket(lab):
    s3, made = boto3.client("s3"), []

    def create(name: str) -> None:
        where = {} if lab.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": lab.region}}
        s3.create_bucket(Bucket=name, **where)
        made.append(name)

    yield s3, create
    for name in made:
        s3.delete_bucket(Bucket=name)


@covers("s3-bucket-name")
def test_bucket_names_are_3_to_63_lowercase_letters_digits_dots_hyphens(bucket, unique):
    s3, create = bucket
    for bad in ("test-bucket_name", "ab", "b" * 64, f"Upper-{unique}", "192.168.5.4", f"a..{unique}", f"-{unique}"):
        assert refused(s3.create_bucket, Bucket=bad) == "InvalidBucketName", bad
    create(f"test-bucket-name-{unique}")
    create(f"a.b.{unique}")


@covers("s3-reserved-bucket-name")
def test_bucket_names_avoid_the_reserved_prefixes_and_suffixes(bucket, unique):
    s3, create = bucket
    for bad in (f"xn--{unique}", f"sthree-{unique}", f"amzn-s3-demo-{unique}", f"{unique}-s3alias", f"{unique}--ol-s3"):
        assert refused(s3.create_bucket, Bucket=bad) == "InvalidBucketName", bad
    create(f"xn-{unique}")
    create(f"{unique}-s3-alias")


# ---------------------------------------------------------------- Lambda event source mappings for SQS


TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def function(lab):
    """A function to map queues to (never invoked: the mappings are created disabled)."""
    awslambda, iam = boto3.client("lambda"), boto3.client("iam")
    name = f"labkit-parity-rules-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    code = {"ZipFile": zip_source("def handler(event, context):\n    return None\n")}
    awslambda.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code=code)
    yield name
    with contextlib.suppress(botocore.exceptions.ClientError):  # LocalStack 4.14 can fail this (InternalError)
        awslambda.delete_function(FunctionName=name)
    iam.delete_role(RoleName=name)


@pytest.fixture
def mapping(function):
    """mapping(arn, **settings) creates a disabled mapping (deleted afterwards) and returns its UUID."""
    awslambda, made = boto3.client("lambda"), []

    def create(arn: str, **settings) -> str:
        made.append(
            awslambda.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, Enabled=False, **settings)[
                "UUID"
            ]
        )
        return made[-1]

    def refuse(arn: str, **settings) -> str:
        return refused(awslambda.create_event_source_mapping, EventSourceArn=arn, FunctionName=function, **settings)

    yield awslambda, create, refuse
    for uuid_ in made:
        with contextlib.suppress(botocore.exceptions.ClientError):
            awslambda.delete_event_source_mapping(UUID=uuid_)


@covers("lambda-sqs-batch-size-range")
def test_a_mapping_batches_at_most_10000_messages(queue, mapping, unique):
    awslambda, create, refuse = mapping
    _, arn = queue(f"esm-size-{unique}")
    assert refuse(arn, BatchSize=10_001, MaximumBatchingWindowInSeconds=1) == "ValidationException"
    uuid_ = create(arn, BatchSize=10_000, MaximumBatchingWindowInSeconds=1)
    assert refused(awslambda.update_event_source_mapping, UUID=uuid_, BatchSize=10_001) == "ValidationException"


@covers("lambda-sqs-batching-window-range")
def test_a_batching_window_is_at_most_300_seconds(queue, mapping, unique):
    _, create, refuse = mapping
    _, arn = queue(f"esm-window-{unique}")
    assert refuse(arn, MaximumBatchingWindowInSeconds=301) == "ValidationException"
    create(arn, MaximumBatchingWindowInSeconds=300)


@covers("lambda-sqs-batch-over-ten-needs-window")
def test_a_batch_over_ten_needs_a_batching_window(queue, mapping, unique):
    awslambda, create, refuse = mapping
    _, arn = queue(f"esm-big-{unique}")
    assert refuse(arn, BatchSize=11) == "InvalidParameterValueException"
    uuid_ = create(arn, BatchSize=10)
    assert refused(awslambda.update_event_source_mapping, UUID=uuid_, BatchSize=11) == "InvalidParameterValueException"
    awslambda.update_event_source_mapping(UUID=uuid_, BatchSize=11, MaximumBatchingWindowInSeconds=1)
    _, other = queue(f"esm-big2-{unique}")  # one mapping per queue and function (AWS: ResourceConflictException)
    create(other, BatchSize=11, MaximumBatchingWindowInSeconds=1)


@covers("lambda-sqs-fifo-batch-size")
def test_a_fifo_mapping_batches_at_most_ten(queue, mapping, unique):
    awslambda, create, refuse = mapping
    _, arn = queue(f"esm-fifo-size-{unique}.fifo", FifoQueue="true")
    assert refuse(arn, BatchSize=11) == "InvalidParameterValueException"
    uuid_ = create(arn, BatchSize=10)
    assert refused(awslambda.update_event_source_mapping, UUID=uuid_, BatchSize=11) == "InvalidParameterValueException"


@covers("lambda-sqs-fifo-no-batching-window")
def test_a_fifo_mapping_has_no_batching_window(queue, mapping, unique):
    _, create, refuse = mapping
    _, arn = queue(f"esm-fifo-window-{unique}.fifo", FifoQueue="true")
    assert refuse(arn, MaximumBatchingWindowInSeconds=1) == "InvalidParameterValueException"
    create(arn, BatchSize=5, MaximumBatchingWindowInSeconds=0)


@covers("lambda-sqs-maximum-concurrency")
def test_maximum_concurrency_is_2_to_1000(queue, mapping, unique):
    awslambda, create, refuse = mapping
    _, arn = queue(f"esm-concurrency-{unique}")
    assert refuse(arn, ScalingConfig={"MaximumConcurrency": 1001}) == "ValidationException"
    with pytest.raises(botocore.exceptions.ParamValidationError):  # the SDK itself knows the minimum
        refuse(arn, ScalingConfig={"MaximumConcurrency": 1})
    uuid_ = create(arn, ScalingConfig={"MaximumConcurrency": 1000})
    too_many = {"MaximumConcurrency": 1001}
    assert refused(awslambda.update_event_source_mapping, UUID=uuid_, ScalingConfig=too_many) == "ValidationException"
    awslambda.update_event_source_mapping(UUID=uuid_, ScalingConfig={"MaximumConcurrency": 2})


# ---------------------------------------------------------------- ListDeadLetterSourceQueues


@aws_rule("ListDeadLetterSourceQueues")
def test_list_dead_letter_source_queues_names_the_queues_that_redrive_to_it(sqs, queue, unique):
    dlq_url, dlq_arn = queue(f"lds-dlq-{unique}")
    sources = {queue(f"lds-src{i}-{unique}", RedrivePolicy=_redrive(dlq_arn))[0] for i in range(3)}
    _, other_dlq = queue(f"lds-other-dlq-{unique}")
    queue(f"lds-elsewhere-{unique}", RedrivePolicy=_redrive(other_dlq))
    plain, _ = queue(f"lds-plain-{unique}")
    assert set(sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]) == sources
    pages = sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq_url, MaxResults=2)
    assert [len(page["queueUrls"]) for page in pages] == [2, 1]
    assert sqs.list_dead_letter_source_queues(QueueUrl=plain)["queueUrls"] == []
    missing = dlq_url.rsplit("/", 1)[0] + f"/lds-missing-{unique}"
    assert refused(sqs.list_dead_letter_source_queues, QueueUrl=missing) == "AWS.SimpleQueueService.NonExistentQueue"


def test_every_rule_has_its_parity_test():
    assert {rule.name for rule in RULES} == COVERED
