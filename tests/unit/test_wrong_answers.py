"""Every exercise's check, fed a wrong answer: a resource that exists but is set up wrongly.

The table :data:`WRONG` is the contract: one case per exercise key, and a test fails when an exercise
has none. Each case builds its wrong state (in-process moto where it can; the embedded servers where a
Lambda handler must really run) and returns ``(args, kwargs, hint)``; the check must answer ``not yet``
with that hint, never pass, never say "nothing to check yet".
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from labkit.aws.lambdas import wait_active, zip_source
from labkit.course.checks import Status
from labkit.course.exercises import all_exercises
from labkit.lessons.l07_scaling_with_cloudwatch.sim import SimpleRule

Case = tuple[tuple, dict, str]
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

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
    """A gp3 volume in the right zone, attached, but at /dev/sdh instead of /dev/sdg."""
    ec2 = boto3.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    iid, zone = instance["InstanceId"], instance["Placement"]["AvailabilityZone"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdh")
    return (volume, iid), {"device": "/dev/sdg"}, "is attached at /dev/sdh; the exercise asks for /dev/sdg"


def wrong_01_2(moto_env) -> Case:
    """An instance launched with the defaults and terminated: its root volume went with it."""
    ec2 = boto3.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    launched = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"]
    iid = launched[0]["InstanceId"]
    root = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]
    ec2.terminate_instances(InstanceIds=[iid])
    return (root["Ebs"]["VolumeId"], iid), {}, "it was deleted with the instance"


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


def wrong_04_2(embedded_lab) -> Case:
    """A FIFO consumer that goes on with a group after one of its orders failed (B-3 before B-2's retry).
    On the embedded servers: in-process moto redelivers a FIFO group out of order (see test_ordered_consumer)."""
    sqs = boto3.client("sqs")
    name = f"labkit-04-{_suffix()}-orders-{_suffix()[:4]}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "VisibilityTimeout": "2"})["QueueUrl"]
    orders = [f"{group}-{n}" for n in (1, 2, 3) for group in "ABC"]
    entries = [
        {"Id": str(i), "MessageBody": b, "MessageGroupId": b[0], "MessageDeduplicationId": b}
        for i, b in enumerate(orders)
    ]
    sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def process_batch(sqs, queue_url, handle):
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            try:
                handle(m["Body"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            except Exception:
                pass

    return (name, process_batch), {}, "B-3 was handled while B-2 had failed and was not yet retried"


# ----------------------------------------------------------------------------- 05 dead-letter queues


def _queue_with_dlq(sqs, prefix: str, max_receive_count: int, fifo: bool = True) -> tuple[str, str, str]:
    """(queue URL, queue name, DLQ name), the queue redriving to the DLQ after ``max_receive_count`` receives."""
    end, attributes = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-my-dlq{end}", Attributes=attributes)["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": str(max_receive_count)})
    url = sqs.create_queue(QueueName=f"{prefix}-my-queue{end}", Attributes={**attributes, "RedrivePolicy": redrive})
    return url["QueueUrl"], f"{prefix}-my-queue{end}", f"{prefix}-my-dlq{end}"


def wrong_05_1(moto_env) -> Case:
    """The queue redrives to its DLQ after 2 receives, but both are standard queues, not FIFO ones."""
    _url, queue, dlq = _queue_with_dlq(boto3.client("sqs"), f"labkit-05-{_suffix()}", 2, fifo=False)
    return (queue, dlq), {"max_receive_count": 2}, "is a standard queue: this exercise asks for a FIFO queue"


def wrong_05_2(moto_env) -> Case:
    """The poison message was sent but never received enough times: it is still in the queue."""
    sqs = boto3.client("sqs")
    url, queue, dlq = _queue_with_dlq(sqs, f"labkit-05-{_suffix()}", 2)
    sqs.send_message(QueueUrl=url, MessageBody="poison", MessageGroupId="orders", MessageDeduplicationId="poison")
    return (queue, dlq), {"body": "poison"}, "'poison' is still in the queue"


# ----------------------------------------------------------------------------- 06 webhooks


def wrong_06_1(moto_env) -> Case:
    """The receiver remembers ids in its own memory: two copies of it queue a repeat twice."""
    from standardwebhooks import Webhook

    from labkit.lessons.l06_webhooks import new_secret

    sqs, secret, mine = boto3.client("sqs"), new_secret(), set()
    url = sqs.create_queue(QueueName=f"labkit-06-{_suffix()}-shared.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

    def receive_shared(headers, body):
        try:
            Webhook(secret).verify(body, headers)
        except Exception:
            return 401, "bad signature"
        if headers["webhook-id"] not in mine:
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="acme", MessageDeduplicationId=_suffix())
            mine.add(headers["webhook-id"])
        return 202, "queued"

    return (receive_shared, url, secret), {}, "the same delivery reached"


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


def wrong_08_1(embedded_lab) -> Case:
    """The worker catches each bad order, but lists the record's body instead of its messageId."""
    from labkit.lessons.l08_sqs_triggers_lambda.worker import worker_package

    code = (
        "from orders import process\n\n\ndef handler(event, context):\n    failures = []\n"
        "    for record in event['Records']:\n        try:\n            process(record)\n"
        "        except ValueError:\n            failures.append({'itemIdentifier': record['body']})\n"
        "    return {'batchItemFailures': failures}\n"
    )
    name = f"labkit-08-worker-{_suffix()}"
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": worker_package(code, NOTEBOOKS / "lambdas" / "orders.py")},
    )
    wait_active(name, timeout=120, quiet=True)
    return (name,), {}, "itemIdentifier must be the record's messageId, not its body"


def wrong_08_2(moto_env) -> Case:
    """The orders queue is mapped to the worker, but without partial batch responses."""
    suffix = _suffix()
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName=f"labkit-08-{suffix}-orders-1-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dlq), "maxReceiveCount": 2})
    url = sqs.create_queue(QueueName=f"labkit-08-{suffix}-orders-1", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    name = _function(f"labkit-08-worker-{suffix}", "def handler(event, context):\n    return {}\n")
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=_queue_arn(sqs, url), FunctionName=name, BatchSize=5
    )
    return (url, name), {}, "the mapping's FunctionResponseTypes is []: without ReportBatchItemFailures"


# ----------------------------------------------------------------------------- 09 databases


def wrong_09_1(moto_env) -> Case:
    """The right query for customer-07's October orders, but without ScanIndexForward=False: oldest first."""
    dynamodb = boto3.client("dynamodb")
    table = f"labkit-09-orders-{_suffix()}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "customer", "AttributeType": "S"},
            {"AttributeName": "order_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "customer", "KeyType": "HASH"},
            {"AttributeName": "order_id", "KeyType": "RANGE"},
        ],
    )
    for order_id in ("2026-10-01#a", "2026-10-05#b", "2026-11-02#c"):
        dynamodb.put_item(TableName=table, Item={"customer": {"S": "customer-07"}, "order_id": {"S": order_id}})
    response = dynamodb.query(
        TableName=table,
        KeyConditionExpression="customer = :c AND begins_with(order_id, :month)",
        ExpressionAttributeValues={":c": {"S": "customer-07"}, ":month": {"S": "2026-10"}},
    )
    return (response, table), {}, "the orders come oldest first"


def wrong_09_2(moto_env) -> Case:
    """The snapshot was restored into a new instance, but as db.t3.micro instead of db.t4g.micro."""
    rds = boto3.client("rds")
    db = f"labkit-09-shop-{_suffix()}"
    rds.create_db_instance(
        DBInstanceIdentifier=db,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="shop",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
    )
    snapshot, restored = f"{db}-before-migration", f"{db}-restored"
    rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=snapshot)
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=restored, DBSnapshotIdentifier=snapshot, DBInstanceClass="db.t3.micro"
    )
    return (db, snapshot, restored), {}, "DBInstanceClass is db.t3.micro"


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
    """The private subnet's own network ACL lets 5432 in from the public subnet, but has no rule for the replies."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=100,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="10.20.1.0/24",
        PortRange={"From": 5432, "To": 5432},
    )
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"]
    association = next(a for a in current[0]["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    return (subnet, vpc, "10.20.1.0/24"), {}, "network ACLs are stateless"


def wrong_10_3(moto_env) -> Case:
    """api.<zone> moved to the right address, but kept a TTL of 300 s instead of 120."""
    route53 = boto3.client("route53")
    zone = f"shop-{_suffix()}.example.com"
    zone_id = route53.create_hosted_zone(Name=zone, CallerReference=zone)["HostedZone"]["Id"]
    record = {"Name": f"api.{zone}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.30"}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    return (zone_id, f"api.{zone}", ["192.0.2.30"]), {}, "its TTL is 300 s: set TTL=120"


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
    """The payroll is out of reach, but because ReadOnlyAccess was swapped for an Allow on report.txt, not by a Deny."""
    s3, iam = boto3.client("s3"), boto3.client("iam")
    bucket, user = f"labkit-11-{_suffix()}", f"reader-{_suffix()}"
    s3.create_bucket(Bucket=bucket)
    iam.create_user(UserName=user)
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/report.txt"}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=user, PolicyName="no-payroll", PolicyDocument=json.dumps(policy))
    return (s3, iam, user, bucket), {"wait_s": 0}, "keep ReadOnlyAccess attached to the reader"


def wrong_11_3(moto_env) -> Case:
    """get_metric_data answered, but with the one-minute period instead of five minutes."""
    cloudwatch = boto3.client("cloudwatch")
    namespace = f"Labkit/Shop-{_suffix()}"
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    storefront = [{"Name": "Storefront", "Value": "web"}]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "OrdersPlaced",
                "Dimensions": storefront,
                "Timestamp": now - dt.timedelta(minutes=m),
                "Value": 3.0,
            }
            for m in range(1, 11)
        ],
    )
    metric = {"Namespace": namespace, "MetricName": "OrdersPlaced", "Dimensions": storefront}
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "orders", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        StartTime=now - dt.timedelta(minutes=15),
        EndTime=now,
    )
    series = response["MetricDataResults"][0]
    busiest = max(zip(series["Timestamps"], series["Values"], strict=True), key=lambda point: point[1])
    return (response, busiest, namespace), {}, "60 s apart: ask for Period 300"


# ----------------------------------------------------------------------------- 12 capstone


def wrong_12_1(embedded_lab) -> Case:
    """The stack has an alarm, but on the orders queue's depth instead of the dead-letter queue's."""
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}
    template = {
        "Resources": {
            "OrdersDeadLetterQueue": queue,
            "OrdersQueue": queue,
            "OrdersDeadLetterAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OrdersQueue", "QueueName"]}}],
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 0,
                    "ComparisonOperator": "GreaterThanThreshold",
                },
            },
        },
        "Outputs": {"DeadLetterQueueName": {"Value": {"Fn::GetAtt": ["OrdersDeadLetterQueue", "QueueName"]}}},
    }
    name = f"labkit-12-orders-{_suffix()}"
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    return (name,), {}, "its QueueName dimension is"


def wrong_12_2(embedded_lab, tmp_path) -> Case:
    """The lesson's stack, deployed with a store() whose update_item has no ConditionExpression."""
    from labkit.lessons.l12_capstone import code_package

    capstone = NOTEBOOKS / "capstone"
    suffix, work = _suffix(), tmp_path
    store = (capstone / "store.py").read_text()
    (work / "store.py").write_text(store.replace('ConditionExpression="attribute_not_exists(seq) OR seq < :seq",', ""))
    package, key = code_package(capstone / "orders.py", work / "store.py")
    s3, cloudformation = boto3.client("s3"), boto3.client("cloudformation")
    s3.create_bucket(Bucket=f"labkit-12-artifacts-{suffix}")
    s3.put_object(Bucket=f"labkit-12-artifacts-{suffix}", Key=key, Body=package)
    name = f"labkit-12-orders-{suffix}"
    values = {"Suffix": suffix, "CodeBucket": f"labkit-12-artifacts-{suffix}", "CodeKey": key}
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=(capstone / "template.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    wait_active(f"labkit-12-consumer-{suffix}", timeout=120, quiet=True)
    return (name,), {}, "the same event was applied twice"


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
    "07.1": wrong_07_1,
    "07.2": wrong_07_2,
    "07.3": wrong_07_3,
    "08.1": wrong_08_1,
    "08.2": wrong_08_2,
    "09.1": wrong_09_1,
    "09.2": wrong_09_2,
    "10.1": wrong_10_1,
    "10.2": wrong_10_2,
    "10.3": wrong_10_3,
    "11.1": wrong_11_1,
    "11.2": wrong_11_2,
    "11.3": wrong_11_3,
    "12.1": wrong_12_1,
    "12.2": wrong_12_2,
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
