"""``labkit cleanup`` and CloudFormation stacks: a tagged stack goes first, with what it made (in-process moto)."""

import json

import boto3
import botocore.exceptions
import pytest

from labkit.backends.aws import TAG_KEY
from labkit.ops import ORDER, clean_up
from labkit.ops.report import DELETED, FAILED, PENDING, WOULD_DELETE
from labkit.ops.stacks import KIND, delete_and_wait

TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}})


def _stack(name: str, lesson: str | None) -> str:
    cf = boto3.client("cloudformation")
    tags = [{"Key": TAG_KEY, "Value": lesson}] if lesson else []
    cf.create_stack(StackName=name, TemplateBody=TEMPLATE, Tags=tags)
    (resource,) = cf.describe_stack_resources(StackName=name)["StackResources"]
    return resource["PhysicalResourceId"]  # the queue's URL


def _stack_names() -> set[str]:
    stacks = boto3.client("cloudformation").describe_stacks()["Stacks"]
    return {s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}


def test_a_stack_is_the_first_step():
    assert ORDER[0].kind == KIND


def test_a_tagged_stack_is_deleted_with_its_queue_and_an_untagged_one_stays(moto_env):
    queue = _stack("labkit-12-orders-a", "12-capstone")
    _stack("someone-elses", None)
    listed = clean_up(dry_run=True)
    assert listed.names(KIND, WOULD_DELETE) == {"labkit-12-orders-a"}
    assert _stack_names() == {"labkit-12-orders-a", "someone-elses"}  # a dry run deletes nothing

    report = clean_up()
    assert report.names(KIND, DELETED) == {"labkit-12-orders-a"}
    assert _stack_names() == {"someone-elses"}
    with pytest.raises(botocore.exceptions.ClientError):
        boto3.client("sqs").get_queue_attributes(QueueUrl=queue)  # the stack's queue went with it


def test_the_lesson_filter_applies_to_stacks(moto_env):
    _stack("labkit-12-orders-b", "12-capstone")
    _stack("labkit-07-other", "07-scaling-with-cloudwatch")
    assert clean_up(lesson="07-scaling-with-cloudwatch").names(KIND, DELETED) == {"labkit-07-other"}
    assert _stack_names() == {"labkit-12-orders-b"}


class _Stuck:
    """A CloudFormation client whose stack never finishes deleting, or fails to."""

    def __init__(self, status: str):
        self.status = status

    def delete_stack(self, StackName):
        pass

    def describe_stacks(self, StackName):
        return {
            "Stacks": [{"StackName": StackName, "StackStatus": self.status, "StackStatusReason": "bucket not empty"}]
        }


def test_a_stack_still_deleting_after_the_wait_is_reported_pending():
    note = delete_and_wait(_Stuck("DELETE_IN_PROGRESS"), "labkit-12-slow", wait_seconds=0)
    assert note == "still DELETE_IN_PROGRESS after 0 s"


def test_a_stack_whose_delete_failed_is_reported_failed_with_what_to_do(moto_env, monkeypatch):
    _stack("labkit-12-orders-c", "12-capstone")
    monkeypatch.setattr(
        "labkit.ops.stacks.delete_and_wait", lambda *_: delete_and_wait(_Stuck("DELETE_FAILED"), "x", 0)
    )
    report = clean_up()
    (entry,) = [e for e in report.entries if e.kind == KIND]
    assert (entry.status, entry.detail) == (FAILED, "DELETE_FAILED: run labkit cleanup again")


def test_a_stack_still_deleting_is_reported_pending_not_deleted(moto_env, monkeypatch):
    _stack("labkit-12-orders-d", "12-capstone")
    still = lambda *_: delete_and_wait(_Stuck("DELETE_IN_PROGRESS"), "x", 0)  # noqa: E731
    monkeypatch.setattr("labkit.ops.stacks.delete_and_wait", still)
    (entry,) = [e for e in clean_up().entries if e.kind == KIND]
    assert (entry.status, entry.detail) == (PENDING, "still DELETE_IN_PROGRESS after 0 s")
