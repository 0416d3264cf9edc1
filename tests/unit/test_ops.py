"""``labkit cleanup``: tagged resources go, untagged ones stay, dry runs delete nothing (in-process moto)."""

import io
import json
import re

import boto3
import botocore.client
import botocore.exceptions
import pytest

from labkit import cli
from labkit.backends.aws import TAG_KEY
from labkit.ops import CleanupReport, Entry, Found, clean_up
from labkit.ops.report import WOULD_DELETE
from labkit.ops.run import Run as _Run

LESSON = "03-lambda"
OTHER = "07-scaling-with-cloudwatch"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]})


def _tags(lesson):
    return [{"Key": TAG_KEY, "Value": lesson}]


def _make(prefix: str, lesson: str | None) -> dict[str, set[str]]:
    """Create one resource of each type, tagged with ``lesson`` (None: untagged); return {kind: {names}}."""
    tags = _tags(lesson) if lesson else []
    tag_dict = {t["Key"]: t["Value"] for t in tags}
    made: dict[str, set[str]] = {}

    def note(kind, name):
        made.setdefault(kind, set()).add(name)

    s3 = boto3.client("s3")
    bucket = f"{prefix}-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="note.txt", Body=body)
    s3.delete_object(Bucket=bucket, Key="note.txt")  # a delete marker on top of two versions
    if tags:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    note("s3 bucket", bucket)

    boto3.client("sqs").create_queue(QueueName=f"{prefix}-queue", tags=tag_dict)
    note("sqs queue", f"{prefix}-queue")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name=f"{prefix}-topic", **({"Tags": tags} if tags else {}))["TopicArn"]
    note("sns topic", f"{prefix}-topic")

    boto3.client("dynamodb").create_table(
        TableName=f"{prefix}-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **({"Tags": tags} if tags else {}),
    )
    note("dynamodb table", f"{prefix}-table")

    iam = boto3.client("iam")
    iam.create_role(RoleName=f"{prefix}-role", AssumeRolePolicyDocument=TRUST, **({"Tags": tags} if tags else {}))
    policy_arn = iam.create_policy(
        PolicyName=f"{prefix}-policy", PolicyDocument=POLICY, **({"Tags": tags} if tags else {})
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=f"{prefix}-role", PolicyArn=policy_arn)
    iam.put_role_policy(RoleName=f"{prefix}-role", PolicyName="inline", PolicyDocument=POLICY)
    note("iam role", f"{prefix}-role")
    note("iam policy", f"{prefix}-policy")
    iam.create_user(UserName=f"{prefix}-user", **({"Tags": tags} if tags else {}))
    iam.create_access_key(UserName=f"{prefix}-user")
    iam.put_user_policy(UserName=f"{prefix}-user", PolicyName="inline", PolicyDocument=POLICY)
    note("iam user", f"{prefix}-user")

    ec2 = boto3.client("ec2")
    spec = lambda kind: {"TagSpecifications": [{"ResourceType": kind, "Tags": tags}]} if tags else {}  # noqa: E731
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16", **spec("vpc"))["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", **spec("subnet"))["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway(**spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc, **spec("route-table"))["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    web = ec2.create_security_group(GroupName=f"{prefix}-web", Description="web", VpcId=vpc, **spec("security-group"))
    db = ec2.create_security_group(GroupName=f"{prefix}-db", Description="db", VpcId=vpc, **spec("security-group"))
    ec2.authorize_security_group_ingress(  # db refers to web: on AWS web can only go after db
        GroupId=db["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web["GroupId"]}]}
        ],
    )
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[web["GroupId"]],
        **spec("instance"),
    )["Instances"][0]["InstanceId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1, **spec("volume"))["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume, **spec("snapshot"))["SnapshotId"]
    ec2.create_key_pair(KeyName=f"{prefix}-key", **spec("key-pair"))
    for kind, name in (
        ("ec2 vpc", vpc),
        ("ec2 subnet", subnet),
        ("ec2 internet gateway", igw),
        ("ec2 route table", table),
        ("ec2 security group", web["GroupId"]),
        ("ec2 security group", db["GroupId"]),
        ("ec2 instance", instance),
        ("ec2 volume", volume),
        ("ec2 snapshot", snapshot),
        ("ec2 key pair", f"{prefix}-key"),
    ):
        note(kind, name)

    template = ec2.create_launch_template(
        LaunchTemplateName=f"{prefix}-template",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
        **spec("launch-template"),
    )["LaunchTemplate"]["LaunchTemplateId"]
    note("ec2 launch template", template)
    boto3.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=f"{prefix}-group",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnet,
        Tags=[{**t, "PropagateAtLaunch": True} for t in tags],
    )
    note("auto scaling group", f"{prefix}-group")

    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{prefix}-alarm",
        MetricName="Depth",
        Namespace="Labkit/Test",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic],
        **({"Tags": tags} if tags else {}),
    )
    note("cloudwatch alarm", f"{prefix}-alarm")
    boto3.client("logs").create_log_group(logGroupName=f"/labkit/{prefix}", **({"tags": tag_dict} if tags else {}))
    note("log group", f"/labkit/{prefix}")
    return made


def _snapshot() -> dict[str, set[str]]:
    """What exists now, by the same kinds the report uses."""
    ec2, iam = boto3.client("ec2"), boto3.client("iam")
    live = [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    return {
        "s3 bucket": {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]},
        "sqs queue": {u.rsplit("/", 1)[-1] for u in boto3.client("sqs").list_queues().get("QueueUrls", [])},
        "sns topic": {t["TopicArn"].rsplit(":", 1)[-1] for t in boto3.client("sns").list_topics()["Topics"]},
        "dynamodb table": set(boto3.client("dynamodb").list_tables()["TableNames"]),
        "iam role": {r["RoleName"] for r in iam.list_roles()["Roles"]},
        "iam policy": {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]},
        "iam user": {u["UserName"] for u in iam.list_users()["Users"]},
        "ec2 vpc": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
        "ec2 subnet": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
        "ec2 internet gateway": {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]},
        "ec2 route table": {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]},
        "ec2 security group": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "ec2 instance": set(live),
        "ec2 volume": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
        "ec2 snapshot": {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]},
        "ec2 key pair": {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]},
        "ec2 launch template": {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]},
        "auto scaling group": {
            g["AutoScalingGroupName"]
            for g in boto3.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        },
        "cloudwatch alarm": {a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]},
        "log group": {g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]},
    }


def _by_kind(report: CleanupReport, status: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in report.entries:
        if e.status == status:
            out.setdefault(e.kind, set()).add(e.name)
    return out


def _contains(bigger: dict[str, set[str]], smaller: dict[str, set[str]]) -> bool:
    return all(names <= bigger.get(kind, set()) for kind, names in smaller.items())


def _asg_instances() -> set[str]:
    groups = boto3.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return {i["InstanceId"] for g in groups for i in g["Instances"]}


@pytest.mark.parametrize("use_tagging_api", [True, False], ids=["tagging-api", "per-service"])
def test_dry_run_lists_tagged_only_then_real_run_deletes_them(moto_env, use_tagging_api):
    tagged = _make("labkit-03-x", LESSON)
    untagged = _make("keep-me", None)
    before = _snapshot()

    dry = clean_up(dry_run=True, use_tagging_api=use_tagging_api)
    assert dry.failed == dry.deleted == dry.not_listed == [], str(dry)
    listed = _by_kind(dry, "would delete")
    assert _contains(listed, tagged), {k: v - listed.get(k, set()) for k, v in tagged.items()}
    untagged_names = {n for names in untagged.values() for n in names}
    assert not untagged_names & {e.name for e in dry.entries}
    assert _snapshot() == before  # nothing deleted

    report = clean_up(use_tagging_api=use_tagging_api, wait_seconds=5)
    assert report.failed == report.not_listed == [], str(report)
    assert _contains(_by_kind(report, "deleted"), tagged)
    after = _snapshot()
    for kind, names in tagged.items():
        assert not names & after[kind], f"{kind} still there: {names & after[kind]}"
    assert _contains(after, untagged)  # untagged survive, including the untagged group's instance
    # the versioned bucket was emptied (two versions and a delete marker) before it went
    bucket = next(e for e in report.deleted if e.kind == "s3 bucket")
    assert "3 object version" in bucket.detail


def test_lesson_filter_deletes_only_that_lesson(moto_env):
    mine = _make("labkit-03-mine", LESSON)
    theirs = _make("labkit-07-theirs", OTHER)

    dry = clean_up(LESSON, dry_run=True)
    assert _contains(_by_kind(dry, "would delete"), mine)
    assert {e.lesson for e in dry.entries} == {LESSON}
    assert not {n for names in theirs.values() for n in names} & {e.name for e in dry.entries}

    report = clean_up(LESSON, wait_seconds=5)
    assert report.failed == report.not_listed == [], str(report)
    after = _snapshot()
    for kind, names in mine.items():
        assert not names & after[kind], kind
    assert _contains(after, theirs)


def test_lambda_function_goes_with_its_mapping_and_log_group(moto_env):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="labkit-08-role", AssumeRolePolicyDocument=TRUST, Tags=_tags("08-x"))["Role"]["Arn"]
    queue = boto3.client("sqs").create_queue(QueueName="labkit-08-q", tags={TAG_KEY: "08-x"})["QueueUrl"]
    queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    fn = boto3.client("lambda")
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    fn.create_function(
        FunctionName="labkit-08-fn",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buf.getvalue()},
        Tags={TAG_KEY: "08-x"},
    )
    fn.create_event_source_mapping(EventSourceArn=queue_arn["QueueArn"], FunctionName="labkit-08-fn", BatchSize=5)
    boto3.client("logs").create_log_group(logGroupName="/aws/lambda/labkit-08-fn")  # made by Lambda: no tag

    dry = clean_up(dry_run=True)
    kinds = [e.kind for e in dry.entries]
    assert kinds.index("event source mapping") < kinds.index("lambda function")
    assert "/aws/lambda/labkit-08-fn" in dry.names("log group")

    report = clean_up()
    assert report.failed == report.not_listed == [], str(report)
    assert fn.list_functions()["Functions"] == []
    assert fn.list_event_source_mappings()["EventSourceMappings"] == []
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


def test_global_and_untaggable_resources(moto_env):
    """Route 53 (records first), CloudFront (disabled now, deleted on the next run), RDS, and the name rule."""
    lesson = [{"Key": TAG_KEY, "Value": "10-networking"}]
    r53 = boto3.client("route53")
    zone = r53.create_hosted_zone(Name="shop-1.example.com", CallerReference="a")["HostedZone"]["Id"]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone.split("/")[-1], AddTags=lesson)
    record = {"Name": "www.shop-1.example.com", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]}
    )
    r53.create_hosted_zone(Name="keep.example.com", CallerReference="b")
    cf = boto3.client("cloudfront")
    config = {
        "CallerReference": "x",
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "o", "DomainName": "b.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "o",
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
        },
        "Comment": "",
        "Enabled": True,
    }
    dist = cf.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": lesson}}
    )["Distribution"]["Id"]
    oac = {"SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
    cf.create_origin_access_control(OriginAccessControlConfig={"Name": "labkit-10-site", **oac})
    cf.create_origin_access_control(OriginAccessControlConfig={"Name": "someone-elses", **oac})
    rds = boto3.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="labkit-10-db",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="admin1",
        MasterUserPassword="password1",
        AllocatedStorage=20,
        Tags=lesson,
    )
    rds.create_db_snapshot(DBInstanceIdentifier="labkit-10-db", DBSnapshotIdentifier="labkit-10-snap", Tags=lesson)
    glacier = boto3.client("glacier")  # moto has no vault tags: on an emulator only the labkit-NN- name can match
    for vault in ("labkit-10-vault", "labkit-02-vault", "other-vault"):
        glacier.create_vault(vaultName=vault)

    first = clean_up("10-networking", name_rule=True)  # moto is an emulator
    assert first.failed == first.not_listed == [], str(first)
    assert {e.kind: e.status for e in first.entries}["cloudfront distribution"] == "pending"
    assert "disabled; delete it again later" in str(first)
    assert cf.get_distribution_config(Id=dist)["DistributionConfig"]["Enabled"] is False
    assert [z["Name"] for z in r53.list_hosted_zones()["HostedZones"]] == ["keep.example.com."]
    assert rds.describe_db_snapshots()["DBSnapshots"] == []
    assert {v["VaultName"] for v in glacier.list_vaults()["VaultList"]} == {"labkit-02-vault", "other-vault"}
    oacs = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [o["Name"] for o in oacs] == ["someone-elses"]

    second = clean_up("10-networking", name_rule=True)
    assert second.names("cloudfront distribution", "deleted") == {dist}
    assert cf.list_distributions()["DistributionList"].get("Items", []) == []


def test_dependency_violations_are_retried_after_the_others(moto_env):
    """On AWS a security group another group refers to cannot go first; the run retries it after the rest."""
    gone: list[str] = []

    def delete(name, needs_gone=None):
        def call():
            if needs_gone and needs_gone not in gone:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "DependencyViolation", "Message": "in use"}}, "DeleteSecurityGroup"
                )
            gone.append(name)

        return call

    run = _Run(boto3.session.Session(), None, dry_run=False, use_tagging_api=False)
    run.delete_with_retries(
        [
            Found("ec2 security group", "web", "x", delete("web", needs_gone="db")),
            Found("ec2 security group", "db", "x", delete("db")),
        ]
    )
    assert gone == ["db", "web"]
    assert run.report.failed == []
    stuck = _Run(boto3.session.Session(), None, dry_run=False, use_tagging_api=False)
    stuck.delete_with_retries([Found("ec2 security group", "web", "x", delete("web", needs_gone="never"))])
    assert [(e.name, e.detail) for e in stuck.report.failed] == [("web", "DependencyViolation")]
    assert "run `labkit cleanup` again" in str(stuck.report)


def test_report_table_never_shows_account_ids_or_arns(moto_env):
    _make("labkit-03-x", LESSON)
    text = str(clean_up(dry_run=True))
    assert "would delete" in text and "labkit-03-x-bucket" in text
    assert "arn:" not in text
    assert boto3.client("sts").get_caller_identity()["Account"] not in text
    # no 12-digit number standing alone (resource ids, e.g. vol-0261431035788abcd, may hold 12 digits in a row)
    assert not re.search(r"(?<![0-9a-z])\d{12}(?![0-9a-z])", text)
    # and the mask holds even if a name carried an account id
    masked = str(CleanupReport("us-east-1", False, entries=[Entry("failed", "iam role", "role-123456789012", "", "x")]))
    assert "123456789012" not in masked and "9012" in masked


def test_nothing_tagged_says_so(moto_env):
    _make("keep-me", None)
    report = clean_up(dry_run=True)
    assert report.entries == []
    assert "nothing tagged labkit:lesson found" in str(report)


def test_cli_cleanup_on_real_aws_needs_the_opt_in(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_ALLOW_REAL_AWS", raising=False)
    monkeypatch.setenv("LABKIT_BACKEND", "aws")
    called = []
    monkeypatch.setattr("labkit.ops.clean_up", lambda *a, **k: called.append(1))
    assert cli.main(["cleanup", "--dry-run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labkit cleanup: real AWS is not allowed")
    assert called == []


def test_cli_cleanup_on_the_embedded_backend(embedded_lab, capsys):
    """The command connects like a notebook does and cleans MiniStack and the moto server alike."""
    tags = [{"Key": TAG_KEY, "Value": LESSON}]
    sqs, ec2 = boto3.client("sqs"), boto3.client("ec2")
    sqs.create_queue(QueueName="labkit-03-cli", tags={TAG_KEY: LESSON})
    sqs.create_queue(QueueName="labkit-07-cli", tags={TAG_KEY: OTHER})
    sqs.create_queue(QueueName="keep-cli")
    boto3.client("logs").create_log_group(logGroupName="/labkit/03-cli", tags={TAG_KEY: LESSON})
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"]
    queues = lambda: {u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])}  # noqa: E731

    assert cli.main(["cleanup", "--lesson", LESSON, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "labkit-03-cli" in out and vpc["VpcId"] in out and "/labkit/03-cli" in out
    assert "labkit-07-cli" not in out and "keep-cli" not in out
    assert queues() == {"labkit-03-cli", "labkit-07-cli", "keep-cli"}

    assert cli.main(["cleanup", "--lesson", LESSON]) == 0
    assert queues() == {"labkit-07-cli", "keep-cli"}
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Vpcs"] == []
    assert boto3.client("logs").describe_log_groups(logGroupNamePrefix="/labkit/03-cli")["logGroups"] == []


def test_cli_cleanup_rejects_a_malformed_lesson(capsys):
    assert cli.main(["cleanup", "--lesson", "lambda", "--backend", "embedded"]) == 1
    assert capsys.readouterr().err.startswith("labkit cleanup: --lesson 'lambda' is not a lesson name")


def test_add_tags_tags_where_it_can_and_says_so_where_it_cannot(moto_env, capsys):
    from labkit.course.checks import UNAVAILABLE_PREFIX
    from labkit.lab import Lab

    lab = Lab(backend="aws", region="us-east-1", routes=[], lesson="02-s3-and-glacier")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="labkit-02-tagged")
    assert lab.add_tags("buckets", s3.put_bucket_tagging, Bucket="labkit-02-tagged", Tagging={"TagSet": lab.tags})
    assert s3.get_bucket_tagging(Bucket="labkit-02-tagged")["TagSet"] == lab.tags
    assert capsys.readouterr().out == ""

    glacier = boto3.client("glacier")  # moto has no vault tags: the lesson says so and carries on
    glacier.create_vault(vaultName="labkit-02-vault")
    assert not lab.add_tags("Glacier vaults", glacier.add_tags_to_vault, vaultName="labkit-02-vault", Tags={"a": "b"})
    assert capsys.readouterr().out.startswith(f"{UNAVAILABLE_PREFIX} tags on Glacier vaults; labkit cleanup finds")


def test_order_deletes_dependents_before_what_they_depend_on():
    from labkit.ops import ORDER, compute
    from labkit.ops.run import with_retries

    kinds = [step.kind for step in ORDER]
    assert len(kinds) == len(set(kinds)), "each kind has one step"
    before = lambda first, then: kinds.index(first) < kinds.index(then)  # noqa: E731
    assert before("auto scaling group", "ec2 instance")
    for network in ("ec2 security group", "ec2 subnet", "ec2 vpc"):
        assert before("ec2 instance", network)
    assert before("ec2 subnet", "ec2 vpc") and before("ec2 internet gateway", "ec2 vpc")
    assert before("cloudfront distribution", "cloudfront origin access control")
    assert before("cloudfront distribution", "s3 bucket")
    assert before("event source mapping", "lambda function")
    for principal in ("iam user", "iam role"):
        assert before(principal, "iam policy")
    how = {step.kind: step.how for step in ORDER}
    assert how["ec2 instance"] is compute.then_wait  # the network waits for the instances to go
    assert how["ec2 security group"] is with_retries  # groups may refer to each other


def test_empty_bucket_deletes_versions_markers_and_plain_objects_1000_at_a_time():
    from labkit.aws.s3 import empty_bucket

    class FakeS3:
        def __init__(self):
            self.versions = [{"Key": f"k{i}", "VersionId": f"v{i}"} for i in range(1500)]
            self.markers = [{"Key": "gone", "VersionId": "m1"}]
            self.plain = [{"Key": "left-over"}]
            self.batches: list[list[dict]] = []

        def get_paginator(self, operation):
            last = {"Versions": self.versions[1000:], "DeleteMarkers": self.markers}
            pages = {
                "list_object_versions": [{"Versions": self.versions[:1000]}, last],
                "list_objects_v2": [{"Contents": self.plain}],
            }[operation]
            return type("Paginator", (), {"paginate": lambda _self, **kw: iter(pages)})()

        def delete_objects(self, Bucket, Delete):
            assert Bucket == "b" and len(Delete["Objects"]) <= 1000
            self.batches.append(Delete["Objects"])
            return {}

    s3 = FakeS3()
    assert empty_bucket(s3, "b") == 1502
    assert [len(b) for b in s3.batches] == [1000, 501, 1]
    assert {"Key": "gone", "VersionId": "m1"} in s3.batches[1] and s3.batches[2] == [{"Key": "left-over"}]


def _vault_tags_fail(monkeypatch, code: str) -> None:
    """Make every ListTagsForVault answer ``code`` (moto: '404' Not yet implemented, the missing call)."""

    def fail(self, operation_name, api_params):
        if operation_name == "ListTagsForVault":
            raise botocore.exceptions.ClientError({"Error": {"Code": code, "Message": code}}, operation_name)
        return original(self, operation_name, api_params)

    original = botocore.client.BaseClient._make_api_call
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fail)


@pytest.mark.parametrize(
    ("code", "name_rule", "found"),
    [
        ("404", True, True),
        ("404", False, False),
        ("AccessDenied", True, False),
        ("AccessDeniedException", False, False),
    ],
)
def test_the_name_rule_stands_in_only_for_a_missing_tag_call_on_an_emulator(moto_env, monkeypatch, code, name_rule,
                                                                             found):  # fmt: skip
    boto3.client("glacier").create_vault(vaultName="labkit-02-vault")
    _vault_tags_fail(monkeypatch, code)
    report = clean_up(dry_run=True, name_rule=name_rule)
    assert ("labkit-02-vault" in report.names("glacier vault", WOULD_DELETE)) is found
    if not found:  # left alone, and said so: its tags could not be read
        (entry,) = [e for e in report.not_listed if e.name == "labkit-02-vault"]
        assert code in entry.detail and "left alone" in entry.detail
    clean_up(name_rule=name_rule)
    assert bool(boto3.client("glacier").list_vaults()["VaultList"]) is not found


@pytest.fixture
def real_aws_cli(moto_env, monkeypatch):
    """`labkit cleanup` as on a real AWS account (in-process moto): the backend chosen and allowed."""
    monkeypatch.setenv("LABKIT_BACKEND", "aws")
    monkeypatch.setenv("LABKIT_ALLOW_REAL_AWS", "1")
    # The session's own connect() named the keys it set (LABKIT_MANAGED_ENV); switching to AWS drops
    # those, so without this the moto keys above would go and STS would find no credentials.
    monkeypatch.delenv("LABKIT_MANAGED_ENV", raising=False)


def test_cli_cleanup_on_real_aws_lists_first_and_deletes_only_with_yes(real_aws_cli, monkeypatch, capfd):
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="labkit-03-real", tags={TAG_KEY: LESSON})
    queues = lambda: {u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])}  # noqa: E731
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a terminal: no prompt, so no
    assert cli.main(["cleanup", "--lesson", LESSON]) == 1
    out, err = capfd.readouterr()
    assert "labkit-03-real" in out and "nothing deleted: run again with --yes" in out, err
    assert queues() == {"labkit-03-real"}
    assert cli.main(["cleanup", "--lesson", LESSON, "--yes"]) == 0
    assert queues() == set()
    assert "123456789012" not in capfd.readouterr().out  # no account id printed


def test_cli_cleanup_on_real_aws_deletes_only_what_it_listed(real_aws_cli, monkeypatch, capfd):
    """A queue made while the learner reads the list (before typing yes) was never shown: it is left, and said."""
    from labkit.cli import course

    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="labkit-03-listed", tags={TAG_KEY: LESSON})

    def yes_while_another_is_made(count: int) -> bool:
        assert count == 1
        sqs.create_queue(QueueName="labkit-03-made-meanwhile", tags={TAG_KEY: LESSON})
        return True

    monkeypatch.setattr(course, "_confirmed", yes_while_another_is_made)
    assert cli.main(["cleanup", "--lesson", LESSON]) == 1  # something tagged is still there
    out = capfd.readouterr().out
    assert {u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])} == {"labkit-03-made-meanwhile"}
    assert "not in the list you confirmed" in out and "run `labkit cleanup` again to see it" in out


def test_a_tagged_role_goes_with_its_tagged_instance_profile_and_an_untagged_profile_stays(moto_env):
    """Lesson 07's instances get their role through an instance profile the lesson tags: cleanup deletes both."""
    iam = boto3.client("iam")
    iam.create_role(RoleName="labkit-07-consumer", AssumeRolePolicyDocument=TRUST, Tags=_tags("07-x"))
    for name, tags in (("labkit-07-consumer", _tags("07-x")), ("someone-elses", [])):
        iam.create_instance_profile(InstanceProfileName=name, **({"Tags": tags} if tags else {}))
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName="labkit-07-consumer")
    clean_up(wait_seconds=5)
    profiles = {p["InstanceProfileName"]: p["Roles"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
    assert profiles == {"someone-elses": []}
    assert "labkit-07-consumer" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
