"""The account view (labkit/course/account.py): what is on the backend, by lesson tag, with live state."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest

from labkit import cli
from labkit.course import account
from labkit.course.account import UNTAGGED, AccountView, Resource, scan_account

TAG = [{"Key": "labkit:lesson", "Value": "12-capstone"}]


@pytest.fixture
def moto_view(moto_env, monkeypatch):
    """In-process moto, without the CloudFormation lister: moto's in-process CloudFormation needs extras the
    kernel does not install (openapi-spec-validator). Stacks are listed against the embedded servers below."""
    monkeypatch.setattr(account, "LISTERS", tuple(row for row in account.LISTERS if row[0] != "cloudformation"))


def test_the_view_groups_by_lesson_then_service_untagged_last():
    view = AccountView(
        [
            Resource("sqs", "queue", "q-untagged"),
            Resource("sqs", "queue", "orders.fifo", "12-capstone", "3 visible, 1 in flight"),
            Resource("cloudwatch", "alarm", "dlq", "12-capstone", "ALARM"),
            Resource("s3", "bucket", "notes", "00-start-here"),
        ]
    )
    assert list(view.by_lesson()) == ["00-start-here", "12-capstone", UNTAGGED]
    assert list(view.by_lesson()["12-capstone"]) == ["sqs", "cloudwatch"]  # services in the order scanned
    text = str(view)
    assert text.splitlines()[0] == "4 resources on this backend in 3 services (cloudwatch, s3, sqs)"
    assert "orders.fifo  [3 visible, 1 in flight]" in text and "dlq  [ALARM]" in text
    assert text.index("12-capstone:") < text.index(f"{UNTAGGED}:")


def test_the_html_is_a_table_with_names_escaped():
    view = AccountView([Resource("sqs", "queue", "<b>odd</b>", "12-capstone", "0 visible, 0 in flight")])
    page = view._repr_html_()
    assert "<table>" in page and "&lt;b&gt;odd&lt;/b&gt;" in page and "<b>odd</b>" not in page


def test_an_empty_view_says_so_and_names_what_it_could_not_list():
    view = AccountView([], {"iam": "AccessDenied"}, lesson="12-capstone")
    assert str(view) == "nothing tagged 12-capstone\n(could not list iam: AccessDenied)"
    assert "could not list iam: AccessDenied" in view._repr_html_()


def test_scan_finds_tagged_and_untagged_things_with_their_state(moto_view):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="orders", tags={"labkit:lesson": "12-capstone"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    boto3.client("s3").create_bucket(Bucket="untagged-bucket")
    boto3.client("dynamodb").create_table(
        TableName="orders-table",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        Tags=TAG,
    )
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="dlq-alarm", Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        Tags=TAG,
    )  # fmt: skip
    everything = scan_account()
    found = {(r.service, r.name): r for r in everything.resources}
    assert found[("sqs", "orders")].lesson == "12-capstone"
    assert found[("sqs", "orders")].state == "1 visible, 0 in flight"
    assert found[("s3", "untagged-bucket")].lesson == UNTAGGED
    assert found[("dynamodb", "orders-table")].lesson == "12-capstone"
    assert found[("cloudwatch", "dlq-alarm")].state == cloudwatch.describe_alarms()["MetricAlarms"][0]["StateValue"]
    mine = scan_account("12-capstone")
    assert {r.name for r in mine.resources} == {"orders", "orders-table", "dlq-alarm"}


def test_refresh_looks_again(moto_view):
    view = account.account_view("12-capstone")
    assert len(view) == 0
    boto3.client("sqs").create_queue(QueueName="later", tags={"labkit:lesson": "12-capstone"})
    assert [r.name for r in view.refresh().resources] == ["later"]


def test_a_service_that_cannot_be_listed_is_named_not_hidden(moto_view, monkeypatch):
    def refused(scan):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListRoles")

    monkeypatch.setattr(account, "LISTERS", (*account.LISTERS[:-1], ("iam", refused)))
    view = scan_account()
    assert view.unavailable == {"iam": "AccessDenied"}
    assert "(could not list iam: AccessDenied)" in str(view)


def test_labkit_status_resources_says_when_the_backend_is_down(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setenv("LABKIT_BACKEND", "embedded")
    code = cli.main(["status", "--resources"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.strip().splitlines()[-1].startswith("resources: ")


def test_stacks_are_listed_with_their_status_and_tag(embedded_lab):
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stacked"}}}}
    boto3.client("cloudformation").create_stack(StackName="view-stack", TemplateBody=json.dumps(template), Tags=TAG)
    found = {(r.service, r.name): r for r in scan_account("12-capstone").resources}
    assert found[("cloudformation", "view-stack")].state == "CREATE_COMPLETE"
    assert found[("sqs", "stacked")].lesson == "12-capstone"  # the stack's tag, put on its queue
