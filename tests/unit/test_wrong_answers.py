"""Every exercise's check, fed a wrong answer: a resource that exists but is set up wrongly.

The table :data:`WRONG` is the contract: one case per exercise key, and a test fails when an exercise
has none. Each case builds its wrong state (in-process moto where it can; the embedded servers where a
Lambda handler must really run) and returns ``(args, kwargs, hint)``; the check must answer ``not yet``
with that hint, never pass, never say "nothing to check yet".
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable

import boto3
import pytest

from labkit.aws.lambdas import wait_active, zip_source
from labkit.course.checks import Status
from labkit.course.exercises import all_exercises
from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimpleRule

Case = tuple[tuple, dict, str]

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def _function(name: str, code: str, **settings) -> str:
    """A Python function ``name`` whose handler.py is ``code``, Active; its name."""
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_source(code)},
        **settings,
    )
    wait_active(name, timeout=120, quiet=True)
    return name


def _queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _vpc_and_group(ec2, name: str) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    return vpc, ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]


def _ingress(ec2, group_id: str, port: int, **source) -> None:
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source}]
    )


# ----------------------------------------------------------------------------- 00 start here


def wrong_00_1(moto_env) -> Case:
    """The queue exists and holds a message, but not 'hello'."""
    sqs = boto3.client("sqs")
    name = f"my-first-queue-{_suffix()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi there")
    return (name,), {}, "no message with body 'hello' yet (saw 'hi there')"


# ----------------------------------------------------------------------------- 01 EC2 and EBS


def wrong_01_1(moto_env) -> Case:
    """HTTPS is open, but only from 10.0.0.0/8, not from anywhere."""
    ec2 = boto3.client("ec2")
    _vpc, group = _vpc_and_group(ec2, f"labkit-01-web-{_suffix()}")
    _ingress(ec2, group, 80, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    _ingress(ec2, group, 443, IpRanges=[{"CidrIp": "10.0.0.0/8"}])
    return (group,), {}, "there is a tcp 443 rule, but not from 0.0.0.0/0"


def wrong_01_2(moto_env) -> Case:
    """A gp3 volume in the right zone, attached, but at /dev/sdh instead of /dev/sdg."""
    ec2 = boto3.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    iid, zone = instance["InstanceId"], instance["Placement"]["AvailabilityZone"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdh")
    return (volume, iid), {"device": "/dev/sdg"}, "is attached at /dev/sdh; the exercise asks for /dev/sdg"


# ----------------------------------------------------------------------------- 02 S3 and Glacier


def wrong_02_1(moto_env) -> Case:
    """Versioned, the old versions kept, but the bad text is still the current version."""
    s3 = boto3.client("s3")
    bucket = f"labkit-02-{_suffix()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"the original")
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"overwritten by mistake")
    return (bucket, "notes.txt", b"the original"), {}, "copy the old version over it"


def wrong_02_2(moto_env) -> Case:
    """An enabled rule on archive/, but straight to Glacier at 30 days and never to Deep Archive."""
    s3 = boto3.client("s3")
    bucket = f"labkit-02-{_suffix()}"
    s3.create_bucket(Bucket=bucket)
    rule = {
        "ID": "archive",
        "Status": "Enabled",
        "Filter": {"Prefix": "archive/"},
        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    return (bucket,), {"prefix": "archive/"}, "the transitions are [(30, 'GLACIER')]; expected [(90, 'GLACIER')"


# ----------------------------------------------------------------------------- 03 Lambda


def wrong_03_1(embedded_lab) -> Case:
    """A function that really runs and shouts in capitals, but forgets the '!'."""
    code = "def handler(event, context):\n    return {'shout': event['text'].upper()}\n"
    name = _function(f"labkit-03-shout-{_suffix()}", code)
    return (name,), {}, "end the shout with '!'"


def wrong_03_2(moto_env) -> Case:
    """PUNCTUATION is set, but the timeout was left at Lambda's default of 3 seconds."""
    name = _function(
        f"labkit-03-shout-{_suffix()}",
        "def handler(event, context):\n    return {}\n",
        Environment={"Variables": {"PUNCTUATION": "!!!"}},
    )
    return (name,), {"timeout": 5, "punctuation": "!!!"}, "has Timeout 3 s: set Timeout=5"


# ----------------------------------------------------------------------------- 04 SQS standard vs FIFO


def wrong_04_1(moto_env) -> Case:
    """The steps are sent in order, but to a standard queue, not a FIFO one."""
    sqs = boto3.client("sqs")
    name = f"labkit-04-{_suffix()}-steps"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for body in ("step-1", "step-2", "step-3"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return (name,), {}, "this is a standard queue"


def wrong_04_2(moto_env) -> Case:
    """All 25 jobs in one send_message_batch call would fail: only the first batch of 10 arrived."""
    sqs = boto3.client("sqs")
    name = f"labkit-04-{_suffix()}-jobs"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"job-{i}"} for i in range(10)])
    return (name,), {"expected": 25}, "only 10 messages arrived: a batch holds at most 10 entries"


# ----------------------------------------------------------------------------- 05 dead-letter queues


def _queue_with_dlq(sqs, prefix: str, max_receive_count: int) -> tuple[str, str, str]:
    """(queue URL, queue name, DLQ name), the queue redriving to the DLQ after ``max_receive_count`` receives."""
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-my-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": str(max_receive_count)})
    url = sqs.create_queue(QueueName=f"{prefix}-my-queue", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    return url, f"{prefix}-my-queue", f"{prefix}-my-dlq"


def wrong_05_1(moto_env) -> Case:
    """The queue has a RedrivePolicy to the right DLQ, but after 5 receives, not 2."""
    _url, queue, dlq = _queue_with_dlq(boto3.client("sqs"), f"labkit-05-{_suffix()}", 5)
    return (queue, dlq), {"max_receive_count": 2}, "maxReceiveCount is 5; this exercise asks for 2"


def wrong_05_2(moto_env) -> Case:
    """The poison message was sent but never received enough times: it is still in the queue."""
    sqs = boto3.client("sqs")
    url, queue, dlq = _queue_with_dlq(sqs, f"labkit-05-{_suffix()}", 2)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    return (queue, dlq), {"body": "poison"}, "'poison' is still in the queue"


# ----------------------------------------------------------------------------- 06 webhooks


def wrong_06_1(moto_env) -> Case:
    """The bounce was counted twice: the handler is not idempotent."""
    dynamodb = boto3.client("dynamodb")
    table = f"labkit-06-{_suffix()}-mail-stats"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "mail_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "mail_id", "KeyType": "HASH"}],
    )
    dynamodb.put_item(TableName=table, Item={"mail_id": {"S": "m-1003"}, "bounces": {"N": "2"}})
    return (table, "m-1003"), {"expected": 1}, "m-1003 has bounces = 2, expected 1 (twice?"


def wrong_06_2(moto_env) -> Case:
    """The topic has an http subscription, but to another URL than the receiver's /sns."""
    sns = boto3.client("sns")
    topic = f"labkit-06-{_suffix()}-bounce-alerts"
    arn = sns.create_topic(Name=topic)["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/webhooks")
    return (topic, "http://127.0.0.1:9/sns"), {}, "the topic has no http subscription to the receiver's /sns URL"


# ----------------------------------------------------------------------------- 07 scaling with CloudWatch


def wrong_07_1() -> Case:
    """The starting rule, untuned: on the spike day the queue waits far too long."""
    return (SimpleRule(high=1000, scale_out=5, low=100, scale_in=1), 300), {}, "(goal: under 3); add more instances"


def wrong_07_2(moto_env, make_scaling_group) -> Case:
    """The right step policy, but no alarm runs it: the high alarm still names the old policy."""
    group = f"labkit-07-consumers-{_suffix()}"
    make_scaling_group(group, max_size=20)
    boto3.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=group,
        PolicyName="scale-out-steps",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 2000.0, "ScalingAdjustment": 5},
            {"MetricIntervalLowerBound": 2000.0, "ScalingAdjustment": 8},
        ],
    )
    return (group, "scale-out-steps"), {}, "no alarm runs scale-out-steps yet: put_metric_alarm the high alarm again"


def wrong_07_3(moto_env) -> Case:
    """A consumer that survives a failing message but deletes it anyway, with the rest of its batch."""

    def deletes_everything(queue_url, handle, keep_going):
        sqs = boto3.client("sqs")
        while keep_going():
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            for message in messages:
                try:
                    handle(message)
                except ValueError:
                    continue  # survives the failure... but the batch delete below takes this message too
            if messages:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    return (deletes_everything,), {}, "the messages whose handle failed were deleted too"


# ----------------------------------------------------------------------------- 08 SQS triggers Lambda


def _mapped_queue(**mapping) -> tuple[str, str]:
    """(queue URL, function name): a queue mapped to a recorder function with these mapping settings."""
    suffix = _suffix()
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"labkit-08-exercise-{suffix}")["QueueUrl"]
    name = _function(f"labkit-08-recorder-{suffix}", "def handler(event, context):\n    return {}\n")
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=_queue_arn(sqs, url), FunctionName=name, **mapping
    )
    return url, name


def wrong_08_1(moto_env) -> Case:
    """The mapping exists with MaximumConcurrency 2, but BatchSize was left at its default of 10."""
    url, name = _mapped_queue(BatchSize=10, ScalingConfig={"MaximumConcurrency": 2})
    return (url, name), {"batch_size": 3, "max_concurrency": 2}, "the mapping's BatchSize is 10: set BatchSize=3"


def wrong_08_2(moto_env) -> Case:
    """The mapping is there, but does not report partial batch failures."""
    url, name = _mapped_queue(BatchSize=3)
    return (url, name), {}, "the mapping's FunctionResponseTypes is []"


# ----------------------------------------------------------------------------- 09 databases


def wrong_09_1(moto_env) -> Case:
    """On demand, but keyed by session_id and a sort key: the exercise asks for session_id alone."""
    table = f"labkit-09-sessions-{_suffix()}"
    boto3.client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "session_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "session_id", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
    )
    return (table,), {}, "expected only a partition (HASH) key named session_id"


def wrong_09_2(moto_env) -> Case:
    """A manual snapshot is available, but automated backups are kept 7 days, not 30."""
    rds = boto3.client("rds")
    db = f"labkit-09-shop-{_suffix()}"
    rds.create_db_instance(
        DBInstanceIdentifier=db,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="shop",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=f"{db}-pre-upgrade")
    return (db, f"{db}-pre-upgrade"), {"retention_days": 30}, "automated backups are kept 7 day(s)"


# ----------------------------------------------------------------------------- 10 networking


def wrong_10_1(moto_env) -> Case:
    """The database group lets TCP 5432 in from the whole world, not from the web group."""
    ec2 = boto3.client("ec2")
    suffix = _suffix()
    vpc, db_group = _vpc_and_group(ec2, f"db-{suffix}")
    web_group = ec2.create_security_group(GroupName=f"web-{suffix}", Description="web", VpcId=vpc)["GroupId"]
    _ingress(ec2, db_group, 5432, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    return (db_group, vpc, web_group), {}, "a rule opens port 5432 to address ranges"


def wrong_10_2(moto_env) -> Case:
    """The apex has an A record, but with an IP address instead of an alias for the distribution."""
    route53 = boto3.client("route53")
    zone_name = f"shop-{_suffix()}.example.com"
    zone_id = route53.create_hosted_zone(Name=zone_name, CallerReference=_suffix())["HostedZone"]["Id"]
    record = {"Name": f"{zone_name}.", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.10"}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    return (zone_id, zone_name, "d111111abcdef8.cloudfront.net"), {}, "the apex A record lists IP addresses"


# ----------------------------------------------------------------------------- 11 IAM and CloudWatch


def wrong_11_1(moto_env) -> Case:
    """The reader's policy allows s3:PutObject on Resource '*': it can write into the other bucket too."""
    s3, iam = boto3.client("s3"), boto3.client("iam")
    mine, other = f"labkit-11-mine-{_suffix()}", f"labkit-11-other-{_suffix()}"
    for bucket in (mine, other):
        s3.create_bucket(Bucket=bucket)
    user = f"reader-{_suffix()}"
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="write", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader_s3 = boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    return (reader_s3, mine, other), {"wait_s": 0}, f"the reader could also write into {other}: the policy is too broad"


def wrong_11_2(moto_env) -> Case:
    """An alarm in the right namespace with the right threshold, but on the wrong metric."""
    suffix = _suffix()
    name, namespace = f"labkit-11-latency-{suffix}", f"Labkit/Shop-{suffix}"
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName="CheckoutErrors",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=800,
        ComparisonOperator="GreaterThanThreshold",
    )
    return (name, namespace), {"wait_s": 0}, "MetricName is 'CheckoutErrors'; expected 'CheckoutLatency'"


WRONG: dict[str, Callable[..., Case]] = {
    "00.1": wrong_00_1,
    "01.1": wrong_01_1,
    "01.2": wrong_01_2,
    "02.1": wrong_02_1,
    "02.2": wrong_02_2,
    "03.1": wrong_03_1,
    "03.2": wrong_03_2,
    "04.1": wrong_04_1,
    "04.2": wrong_04_2,
    "05.1": wrong_05_1,
    "05.2": wrong_05_2,
    "06.1": wrong_06_1,
    "06.2": wrong_06_2,
    "07.1": wrong_07_1,
    "07.2": wrong_07_2,
    "07.3": wrong_07_3,
    "08.1": wrong_08_1,
    "08.2": wrong_08_2,
    "09.1": wrong_09_1,
    "09.2": wrong_09_2,
    "10.1": wrong_10_1,
    "10.2": wrong_10_2,
    "11.1": wrong_11_1,
    "11.2": wrong_11_2,
}


def test_every_exercise_has_a_wrong_answer_case():
    assert set(WRONG) == {e.key for e in all_exercises()}


@pytest.mark.parametrize("key", sorted(WRONG))
def test_a_wrong_answer_is_not_yet_with_its_hint(key, request, monkeypatch):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    case = WRONG[key]
    fixtures = {name: request.getfixturevalue(name) for name in inspect.signature(case).parameters}
    args, kwargs, expected = case(**fixtures)
    assert all(a is not None for a in args) and all(v is not None for v in kwargs.values()), "a None is not wrong"
    (exercise,) = [e for e in all_exercises() if e.key == key]
    result = exercise.check(*args, **kwargs)
    assert result.status is Status.NOT_YET, f"{key} {exercise.check_name}: {result.status}: {result.message}"
    assert expected in result.message, f"{key} {exercise.check_name}: {result.message}"
    assert "nothing to check yet" not in result.message
