"""``labkit cleanup``: find everything tagged ``labkit:lesson`` and delete it, dependents first.

How resources are found:

- the Resource Groups Tagging API (``get_resources`` with a ``labkit:lesson`` tag filter) for
  S3 buckets, SQS queues, SNS topics, DynamoDB tables, Lambda functions, CloudWatch alarms,
  log groups and RDS instances and snapshots, on AWS's own endpoints. On an emulator (whose
  Tagging API may know fewer services, or none), or when the Tagging API fails, each service is
  listed and its tags read one resource at a time;
- the service's own describe call with a server-side tag filter for EC2 (instances, volumes,
  snapshots, key pairs, launch templates, security groups, route tables, internet gateways,
  subnets, VPCs) and Auto Scaling groups;
- the service's own tag calls where the Tagging API does not cover it: IAM roles, users and
  policies, Route 53 hosted zones, CloudFront distributions (global), CloudWatch dashboards,
  Elastic Beanstalk applications, Glacier vaults.

Resources that belong to a tagged one go with it, without a tag of their own: a Lambda
function's event source mappings and its ``/aws/lambda/<name>`` log group, a role's policy
attachments and inline policies, a user's access keys, a topic's subscriptions, a hosted zone's
records, a bucket's object versions, an Auto Scaling group's instances.

The name rule: a resource is matched by name only if its name starts with ``labkit-`` (with a
lesson filter, ``labkit-NN-``) **and** no tag lookup is possible for it: CloudFront origin access
controls (they cannot be tagged), and Glacier vaults or CloudWatch dashboards on a backend whose
tag call is missing. A resource that could carry a tag but does not is never deleted.

Nothing waits long: a CloudFront distribution is disabled and reported "disabled; delete it
again later"; RDS instances and Auto Scaling groups finish deleting on their own. Only the
termination of EC2 instances is awaited (``wait_seconds``), because security groups, subnets
and VPCs cannot go before it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.parsers

from labkit.aws.errors import error_code
from labkit.backends.aws import TAG_KEY, mask_account

NAME_PREFIX = "labkit-"
DELETED, WOULD_DELETE, FAILED, PENDING = "deleted", "would delete", "failed", "pending"
NOT_LISTED = "not listed"  # the service could not be listed (missing on this backend, or access denied)
# Failures that usually mean "something this run started is still going away": try again later.
_RETRY_LATER = {"DependencyViolation", "VolumeInUse", "OriginAccessControlInUse", "DistributionNotDisabled"}

# Kinds the Tagging API finds: (service, resource-type prefix in the ARN).
_TAGGING_TYPES = {
    "s3 bucket": ("s3", ""),
    "sqs queue": ("sqs", ""),
    "sns topic": ("sns", ""),
    "dynamodb table": ("dynamodb", "table/"),
    "lambda function": ("lambda", "function:"),
    "cloudwatch alarm": ("cloudwatch", "alarm:"),
    "log group": ("logs", "log-group:"),
    "rds instance": ("rds", "db:"),
    "rds snapshot": ("rds", "snapshot:"),
}


# ----------------------------------------------------------------------------- the report


@dataclass
class Entry:
    status: str  # deleted | would delete | failed | pending | not listed
    kind: str  # e.g. "s3 bucket"
    name: str  # a name or id, never an ARN
    lesson: str = ""
    detail: str = ""  # an error code, or what else happened


@dataclass
class CleanupReport:
    """What ``clean_up`` deleted, would delete, could not delete (with the error code), or left pending."""

    region: str
    dry_run: bool
    lesson: str | None = None
    entries: list[Entry] = field(default_factory=list)

    def _with(self, status: str) -> list[Entry]:
        return [e for e in self.entries if e.status == status]

    @property
    def deleted(self) -> list[Entry]:
        return self._with(DELETED)

    @property
    def would_delete(self) -> list[Entry]:
        return self._with(WOULD_DELETE)

    @property
    def failed(self) -> list[Entry]:
        return self._with(FAILED)

    @property
    def pending(self) -> list[Entry]:
        return self._with(PENDING)

    @property
    def not_listed(self) -> list[Entry]:
        return self._with(NOT_LISTED)

    def names(self, kind: str | None = None, status: str | None = None) -> set[str]:
        return {e.name for e in self.entries if kind in (None, e.kind) and status in (None, e.status)}

    def __str__(self) -> str:
        head = f"labkit cleanup · region {self.region} · lesson {self.lesson or 'all'}"
        head += " · dry run: nothing deleted" if self.dry_run else ""
        lines = [head]
        if not self.entries:
            lines.append(f"  nothing tagged {TAG_KEY} found")
        else:
            rows = [("status", "type", "resource", "lesson", "detail")]
            rows += [(e.status, e.kind, e.name, e.lesson, e.detail) for e in self.entries]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
                lines.append(("  " + "  ".join(cells)).rstrip())
        counts = [(s, len(self._with(s))) for s in (DELETED, WOULD_DELETE, PENDING, FAILED, NOT_LISTED)]
        lines.append("  " + " · ".join(f"{s} {n}" for s, n in counts if n) if self.entries else "")
        if self.pending or any(e.detail in _RETRY_LATER for e in self.failed):
            lines.append("  run `labkit cleanup` again in a few minutes for what AWS is still deleting")
        if self.not_listed:
            lines.append("  'not listed': that service was not checked (missing on this backend, or access denied)")
        return _mask("\n".join(line for line in lines if line))

    def __repr__(self) -> str:
        return str(self)


def _mask(text: str) -> str:
    """Belt and braces: no account id (12 digits) ever reaches the screen."""
    return re.sub(r"(?<!\d)\d{12}(?!\d)", lambda m: mask_account(m.group(0)), text)


# ----------------------------------------------------------------------------- helpers


def _code(err: Exception) -> str:
    return error_code(err, type(err).__name__)  # not a ClientError: e.g. an emulator answering with an HTML page


_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError)


def _tags(pairs: Iterable[dict] | dict | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return pairs
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value", "")) for p in pairs or []}


def _arn_name(arn: str) -> str:
    """The part of an ARN after its account id: the resource, never the account."""
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc


@dataclass
class Found:
    kind: str
    name: str
    lesson: str
    delete: Callable[[], str | None]  # returns a note for the report, or raises
    pending: bool = False  # AWS is still working on it: report as pending, not deleted
    detail: str = ""


class _Run:
    def __init__(self, session: boto3.session.Session, lesson: str | None, dry_run: bool, use_tagging_api: bool):
        self.session = session
        self.lesson = lesson
        self.dry_run = dry_run
        self.region = session.region_name or "us-east-1"
        self.report = CleanupReport(self.region, dry_run, lesson)
        self._clients: dict[str, object] = {}
        self._tagged: dict[str, list[tuple[str, dict]]] | None = None
        self._tagging_host = ""
        if use_tagging_api:
            self._load_tagging_api()

    def client(self, name: str):
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    # -- matching

    def wanted(self, tags: dict[str, str]) -> str | None:
        """The lesson value if these tags mark a resource to delete, else None."""
        if TAG_KEY not in tags:
            return None
        value = tags[TAG_KEY]
        return value if self.lesson is None or value == self.lesson else None

    def name_prefix(self) -> str:
        if self.lesson is None:
            return NAME_PREFIX
        return f"{NAME_PREFIX}{self.lesson.split('-', 1)[0]}-"

    def by_name(self, name: str) -> str | None:
        return "(by name)" if name.startswith(self.name_prefix()) else None

    # -- the Tagging API

    def _load_tagging_api(self) -> None:
        tagging = self.client("resourcegroupstaggingapi")
        tag_filter = {"Key": TAG_KEY, **({"Values": [self.lesson]} if self.lesson else {})}
        found: dict[str, list[tuple[str, dict]]] = {}
        try:
            for page in tagging.get_paginator("get_resources").paginate(TagFilters=[tag_filter]):
                for item in page.get("ResourceTagMappingList", []):
                    service = item["ResourceARN"].split(":")[2]
                    found.setdefault(service, []).append((item["ResourceARN"], _tags(item.get("Tags"))))
        except _ERRORS:
            return  # not on this backend: every service is listed on its own
        self._tagged = found
        self._tagging_host = _host(tagging.meta.endpoint_url)

    def tagging_covers(self, service: str) -> bool:
        """True if the Tagging API answered and it and the service are both AWS's own endpoints.

        An emulator's Tagging API may know fewer services than AWS's (MiniStack's misses log groups,
        and the embedded backend's EC2 lives in a second server), so emulators are listed service by service.
        """
        if self._tagged is None:
            return False
        host = _host(self.client(service).meta.endpoint_url)
        return all(h.endswith((".amazonaws.com", ".amazonaws.com.cn")) for h in (host, self._tagging_host))

    def from_tagging(self, kind: str) -> list[tuple[str, str]] | None:
        """(resource part of the ARN, lesson) for this kind, or None if the Tagging API does not cover it here."""
        service, prefix = _TAGGING_TYPES[kind]
        if not self.tagging_covers(service):
            return None
        out = []
        for arn, tags in self._tagged.get(service, []):
            resource = arn.split(":", 5)[5]
            lesson = self.wanted(tags)
            if lesson is None or not resource.startswith(prefix):
                continue
            resource = resource[len(prefix) :]
            if kind == "s3 bucket" and "/" in resource:
                continue
            if kind == "log group":
                resource = resource.removesuffix(":*")
            out.append((resource, lesson))
        return out

    # -- running

    def add(self, status: str, kind: str, name: str, lesson: str = "", detail: str = "") -> None:
        self.report.entries.append(Entry(status, kind, name, lesson, detail))

    def find(self, kind: str, finder: Callable[[], list[Found]]) -> list[Found]:
        try:
            return finder()
        except _ERRORS as err:
            self.add(NOT_LISTED, kind, "(not checked)", detail=_code(err))
            return []

    def delete(self, items: list[Found], retry_on: str | None = None) -> list[Found]:
        """Delete each; return the ones that failed with ``retry_on`` (to try again after the others)."""
        again = []
        for item in items:
            if self.dry_run:
                self.add(WOULD_DELETE, item.kind, item.name, item.lesson, item.detail)
                continue
            try:
                note = item.delete()
            except _ERRORS as err:
                if retry_on and _code(err) == retry_on:
                    again.append(item)
                    continue
                self.add(FAILED, item.kind, item.name, item.lesson, _code(err))
                continue
            status = PENDING if item.pending or (note or "").startswith("disabled") else DELETED
            self.add(status, item.kind, item.name, item.lesson, note or item.detail)
        return again

    def delete_with_retries(self, items: list[Found], code: str = "DependencyViolation", passes: int = 3) -> None:
        """Delete a group whose members may depend on each other (security groups referencing each other)."""
        for _ in range(passes - 1):
            items = self.delete(items, retry_on=code)
            if not items:
                return
        self.delete(items)


# ----------------------------------------------------------------------------- finders and deleters


def _paginate(client, operation: str, key: str, **kwargs) -> list:
    out = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out += page.get(key, [])
    return out


def _ec2_filters(run: _Run) -> list[dict]:
    if run.lesson:
        return [{"Name": f"tag:{TAG_KEY}", "Values": [run.lesson]}]
    return [{"Name": "tag-key", "Values": [TAG_KEY]}]


def _autoscaling_groups(run: _Run) -> list[Found]:
    asg = run.client("autoscaling")
    filters = [{"Name": "key", "Values": [TAG_KEY]}] + (
        [{"Name": "value", "Values": [run.lesson]}] if run.lesson else []
    )
    out = []
    for tag in _paginate(asg, "describe_tags", "Tags", Filters=filters):
        if tag.get("ResourceType") != "auto-scaling-group" or run.wanted({tag["Key"]: tag["Value"]}) is None:
            continue
        name = tag["ResourceId"]
        out.append(
            Found(
                "auto scaling group",
                name,
                tag["Value"],
                lambda n=name: (
                    asg.delete_auto_scaling_group(AutoScalingGroupName=n, ForceDelete=True)
                    and "its instances are terminated with it"
                ),
            )
        )
    return out


def _instances(run: _Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for reservation in _paginate(ec2, "describe_instances", "Reservations", Filters=_ec2_filters(run)):
        for inst in reservation["Instances"]:
            if inst["State"]["Name"] in ("terminated", "shutting-down"):
                continue
            iid = inst["InstanceId"]
            out.append(
                Found(
                    "ec2 instance",
                    iid,
                    _tags(inst.get("Tags"))[TAG_KEY],
                    lambda i=iid: ec2.terminate_instances(InstanceIds=[i]) and "terminated",
                )
            )
    return out


def _wait_terminated(run: _Run, instance_ids: list[str], wait_seconds: float) -> None:
    if run.dry_run or not instance_ids:
        return
    ec2 = run.client("ec2")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            reservations = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
        except _ERRORS:
            return
        states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
        if all(s == "terminated" for s in states) or time.monotonic() >= deadline:
            return
        time.sleep(min(5.0, max(deadline - time.monotonic(), 0)))


def _ec2_simple(kind: str, describe: str, key: str, id_key: str, delete: str, param: str, **extra) -> Callable:
    """A finder for an EC2 type that is deleted with one call taking its id."""

    def finder(run: _Run) -> list[Found]:
        ec2 = run.client("ec2")
        items = _paginate(ec2, describe, key, Filters=_ec2_filters(run), **extra)
        return [
            Found(
                kind,
                item[id_key],
                _tags(item.get("Tags"))[TAG_KEY],
                lambda i=item[id_key]: getattr(ec2, delete)(**{param: i}) and None,
            )
            for item in items
        ]

    return finder


def _key_pairs(run: _Run) -> list[Found]:
    ec2 = run.client("ec2")
    pairs = ec2.describe_key_pairs(Filters=_ec2_filters(run)).get("KeyPairs", [])
    return [
        Found(
            "ec2 key pair",
            p["KeyName"],
            _tags(p.get("Tags"))[TAG_KEY],
            lambda n=p["KeyName"]: ec2.delete_key_pair(KeyName=n) and None,
        )
        for p in pairs
    ]


def _route_tables(run: _Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for table in _paginate(ec2, "describe_route_tables", "RouteTables", Filters=_ec2_filters(run)):
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue  # a VPC's main route table goes with the VPC

        def delete(t=table) -> None:
            for assoc in t.get("Associations", []):
                if assoc.get("RouteTableAssociationId"):
                    ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=t["RouteTableId"])

        out.append(Found("ec2 route table", table["RouteTableId"], _tags(table.get("Tags"))[TAG_KEY], delete))
    return out


def _internet_gateways(run: _Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for igw in _paginate(ec2, "describe_internet_gateways", "InternetGateways", Filters=_ec2_filters(run)):

        def delete(g=igw) -> None:
            for att in g.get("Attachments", []):
                ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=att["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])

        out.append(Found("ec2 internet gateway", igw["InternetGatewayId"], _tags(igw.get("Tags"))[TAG_KEY], delete))
    return out


def _security_groups(run: _Run) -> list[Found]:
    ec2 = run.client("ec2")
    groups = _paginate(ec2, "describe_security_groups", "SecurityGroups", Filters=_ec2_filters(run))
    return [
        Found(
            "ec2 security group",
            g["GroupId"],
            _tags(g.get("Tags"))[TAG_KEY],
            lambda i=g["GroupId"]: ec2.delete_security_group(GroupId=i) and None,
        )
        for g in groups
        if g.get("GroupName") != "default"
    ]


def _tagged_by_api_or_listing(
    run: _Run, kind: str, listing: Callable[[], Iterable[tuple[str, dict[str, str]]]]
) -> list[tuple[str, str]]:
    """(name, lesson) pairs: from the Tagging API where it covers the kind here, else from listing + tag calls."""
    from_api = run.from_tagging(kind)
    if from_api is not None:
        return from_api
    out = []
    for name, tags in listing():
        lesson = run.wanted(tags)
        if lesson is not None:
            out.append((name, lesson))
    return out


def _buckets(run: _Run) -> list[Found]:
    s3 = run.client("s3")

    def listing():
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet", [])
            except botocore.exceptions.ClientError:
                tags = []  # NoSuchTagSet, or a bucket in another region
            yield bucket["Name"], _tags(tags)

    def delete(bucket: str) -> str:
        versions = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for obj in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"], VersionId=obj["VersionId"])
                versions += 1
        s3.delete_bucket(Bucket=bucket)
        return f"emptied {versions} object version(s) first" if versions else ""

    return [
        Found("s3 bucket", name, lesson, lambda n=name: delete(n))
        for name, lesson in _tagged_by_api_or_listing(run, "s3 bucket", listing)
    ]


def _queues(run: _Run) -> list[Found]:
    sqs = run.client("sqs")

    def listing():
        for url in _paginate(sqs, "list_queues", "QueueUrls"):
            yield url.rsplit("/", 1)[-1], sqs.list_queue_tags(QueueUrl=url).get("Tags", {})

    def delete(name: str) -> None:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])

    return [
        Found("sqs queue", name, lesson, lambda n=name: delete(n))
        for name, lesson in _tagged_by_api_or_listing(run, "sqs queue", listing)
    ]


def _topics(run: _Run) -> list[Found]:
    sns = run.client("sns")
    arns = {t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in _paginate(sns, "list_topics", "Topics")}

    def listing():
        for name, arn in arns.items():
            yield name, _tags(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))

    return [
        Found(
            "sns topic",
            name,
            lesson,
            lambda a=arns[name]: sns.delete_topic(TopicArn=a) and "with its subscriptions",
        )
        for name, lesson in _tagged_by_api_or_listing(run, "sns topic", listing)
        if name in arns
    ]


def _tables(run: _Run) -> list[Found]:
    ddb = run.client("dynamodb")

    def listing():
        for name in _paginate(ddb, "list_tables", "TableNames"):
            arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
            yield name, _tags(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags"))

    return [
        Found("dynamodb table", name, lesson, lambda n=name: ddb.delete_table(TableName=n) and None)
        for name, lesson in _tagged_by_api_or_listing(run, "dynamodb table", listing)
    ]


def _alarms(run: _Run) -> list[Found]:
    cw = run.client("cloudwatch")

    def listing():
        for alarm in _paginate(cw, "describe_alarms", "MetricAlarms"):
            yield alarm["AlarmName"], _tags(cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))

    return [
        Found("cloudwatch alarm", name, lesson, lambda n=name: cw.delete_alarms(AlarmNames=[n]) and None)
        for name, lesson in _tagged_by_api_or_listing(run, "cloudwatch alarm", listing)
    ]


def _dashboards(run: _Run) -> list[Found]:
    cw = run.client("cloudwatch")
    out = []
    for board in _paginate(cw, "list_dashboards", "DashboardEntries"):
        name = board["DashboardName"]
        try:
            lesson = run.wanted(_tags(cw.list_tags_for_resource(ResourceARN=board["DashboardArn"]).get("Tags")))
        except _ERRORS:
            lesson = run.by_name(name)  # no tag lookup on this backend: the name rule
        if lesson is not None:
            out.append(
                Found(
                    "cloudwatch dashboard",
                    name,
                    lesson,
                    lambda n=name: cw.delete_dashboards(DashboardNames=[n]) and None,
                )
            )
    return out


def _log_groups(run: _Run, also: Iterable[tuple[str, str]] = ()) -> list[Found]:
    logs = run.client("logs")

    def listing():
        for group in _paginate(logs, "describe_log_groups", "logGroups"):
            yield group["logGroupName"], _tags(logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags"))

    found = dict(_tagged_by_api_or_listing(run, "log group", listing))
    details = dict.fromkeys(found, "")
    for name, function in also:  # the /aws/lambda/<name> groups Lambda made for tagged functions
        if name in found:
            continue
        if any(g["logGroupName"] == name for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]):
            found[name], details[name] = function[1], f"logs of function {function[0]}"
    return [
        Found(
            "log group",
            name,
            lesson,
            lambda n=name: logs.delete_log_group(logGroupName=n) and None,
            detail=details[name],
        )
        for name, lesson in found.items()
    ]


def _functions(run: _Run) -> list[Found]:
    fn = run.client("lambda")

    def listing():
        for f in _paginate(fn, "list_functions", "Functions"):
            yield f["FunctionName"], _tags(fn.list_tags(Resource=f["FunctionArn"]).get("Tags"))

    return [
        Found("lambda function", name, lesson, lambda n=name: fn.delete_function(FunctionName=n) and None)
        for name, lesson in _tagged_by_api_or_listing(run, "lambda function", listing)
    ]


def _event_source_mappings(run: _Run, functions: list[Found]) -> list[Found]:
    fn = run.client("lambda")
    out = []
    for f in functions:
        for m in _paginate(fn, "list_event_source_mappings", "EventSourceMappings", FunctionName=f.name):
            out.append(
                Found(
                    "event source mapping",
                    m["UUID"],
                    f.lesson,
                    lambda u=m["UUID"]: fn.delete_event_source_mapping(UUID=u) and None,
                    detail=f"of function {f.name}",
                )
            )
    return out


def _rds_instances(run: _Run) -> list[Found]:
    rds = run.client("rds")

    def listing():
        for db in _paginate(rds, "describe_db_instances", "DBInstances"):
            yield db["DBInstanceIdentifier"], _tags(db.get("TagList"))

    def delete(name: str) -> str:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        return "deleting (AWS takes minutes; no final snapshot)"

    return [
        Found("rds instance", name, lesson, lambda n=name: delete(n))
        for name, lesson in _tagged_by_api_or_listing(run, "rds instance", listing)
    ]


def _rds_snapshots(run: _Run) -> list[Found]:
    rds = run.client("rds")

    def listing():
        for snap in _paginate(rds, "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"):
            yield snap["DBSnapshotIdentifier"], _tags(snap.get("TagList"))

    return [
        Found("rds snapshot", name, lesson, lambda n=name: rds.delete_db_snapshot(DBSnapshotIdentifier=n) and None)
        for name, lesson in _tagged_by_api_or_listing(run, "rds snapshot", listing)
    ]


def _iam_roles(run: _Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for role in _paginate(iam, "list_roles", "Roles"):
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        name = role["RoleName"]
        lesson = run.wanted(_tags(_paginate(iam, "list_role_tags", "Tags", RoleName=name)))
        if lesson is None:
            continue

        def delete(n=name) -> str:
            attached = _paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=n)
            for p in attached:
                iam.detach_role_policy(RoleName=n, PolicyArn=p["PolicyArn"])
            inline = _paginate(iam, "list_role_policies", "PolicyNames", RoleName=n)
            for p in inline:
                iam.delete_role_policy(RoleName=n, PolicyName=p)
            for profile in _paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=n):
                iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=n)
            iam.delete_role(RoleName=n)
            return (
                f"{len(attached)} policy attachment(s), {len(inline)} inline polic(ies) first"
                if attached or inline
                else ""
            )

        out.append(Found("iam role", name, lesson, delete))
    return out


def _iam_users(run: _Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for user in _paginate(iam, "list_users", "Users"):
        name = user["UserName"]
        lesson = run.wanted(_tags(_paginate(iam, "list_user_tags", "Tags", UserName=name)))
        if lesson is None:
            continue

        def delete(n=name) -> str:
            keys = _paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=n)
            for key in keys:
                iam.delete_access_key(UserName=n, AccessKeyId=key["AccessKeyId"])
            for p in _paginate(iam, "list_attached_user_policies", "AttachedPolicies", UserName=n):
                iam.detach_user_policy(UserName=n, PolicyArn=p["PolicyArn"])
            for p in _paginate(iam, "list_user_policies", "PolicyNames", UserName=n):
                iam.delete_user_policy(UserName=n, PolicyName=p)
            for g in _paginate(iam, "list_groups_for_user", "Groups", UserName=n):
                iam.remove_user_from_group(GroupName=g["GroupName"], UserName=n)
            try:
                iam.delete_login_profile(UserName=n)
            except botocore.exceptions.ClientError as err:
                if _code(err) != "NoSuchEntity":
                    raise
            iam.delete_user(UserName=n)
            return f"with its {len(keys)} access key(s) and policies"

        out.append(Found("iam user", name, lesson, delete))
    return out


def _iam_policies(run: _Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for policy in _paginate(iam, "list_policies", "Policies", Scope="Local"):
        arn = policy["Arn"]
        lesson = run.wanted(_tags(_paginate(iam, "list_policy_tags", "Tags", PolicyArn=arn)))
        if lesson is None:
            continue

        def delete(a=arn) -> None:
            page = iam.list_entities_for_policy(PolicyArn=a)
            for r in page.get("PolicyRoles", []):
                iam.detach_role_policy(RoleName=r["RoleName"], PolicyArn=a)
            for u in page.get("PolicyUsers", []):
                iam.detach_user_policy(UserName=u["UserName"], PolicyArn=a)
            for g in page.get("PolicyGroups", []):
                iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=a)
            for v in iam.list_policy_versions(PolicyArn=a)["Versions"]:
                if not v["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=a, VersionId=v["VersionId"])
            iam.delete_policy(PolicyArn=a)

        out.append(Found("iam policy", policy["PolicyName"], lesson, delete))
    return out


def _hosted_zones(run: _Run) -> list[Found]:
    r53 = run.client("route53")
    zones = {z["Id"].rsplit("/", 1)[-1]: z for z in _paginate(r53, "list_hosted_zones", "HostedZones")}
    ids = list(zones)
    out = []
    for start in range(0, len(ids), 10):
        answer = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=ids[start : start + 10])
        for tag_set in answer.get("ResourceTagSets", []):
            lesson = run.wanted(_tags(tag_set.get("Tags")))
            if lesson is None:
                continue
            zone = zones[tag_set["ResourceId"]]

            def delete(zid=tag_set["ResourceId"], apex=zone["Name"]) -> str:
                removed = 0
                for record in _paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zid):
                    if record["Type"] in ("NS", "SOA") and record["Name"] == apex:
                        continue
                    r53.change_resource_record_sets(
                        HostedZoneId=zid,
                        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
                    )
                    removed += 1
                r53.delete_hosted_zone(Id=zid)
                return f"deleted {removed} record(s) first" if removed else ""

            out.append(Found("route53 hosted zone", f"{zone['Name']} ({tag_set['ResourceId']})", lesson, delete))
    return out


def _distributions(run: _Run) -> list[Found]:
    cf = run.client("cloudfront")
    out = []
    for dist in _cf_list(cf):
        lesson = run.wanted(_tags(cf.list_tags_for_resource(Resource=dist["ARN"]).get("Tags", {}).get("Items")))
        if lesson is None:
            continue
        did = dist["Id"]
        enabled, deployed = dist.get("Enabled", True), dist.get("Status") == "Deployed"

        def delete(i=did) -> str | None:
            current = cf.get_distribution_config(Id=i)
            config, etag = current["DistributionConfig"], current["ETag"]
            if config.get("Enabled", True):
                cf.update_distribution(Id=i, IfMatch=etag, DistributionConfig={**config, "Enabled": False})
                return "disabled; delete it again later (AWS takes minutes to disable it)"
            if cf.get_distribution(Id=i)["Distribution"]["Status"] != "Deployed":
                return "disabled; still deploying: delete it again later"
            cf.delete_distribution(Id=i, IfMatch=etag)
            return None

        detail = "" if not enabled and deployed else "will be disabled first; delete it again later"
        out.append(Found("cloudfront distribution", did, lesson, delete, detail=detail))
    return out


def _cf_list(cf) -> list[dict]:
    items: list[dict] = []
    for page in cf.get_paginator("list_distributions").paginate():
        items += page.get("DistributionList", {}).get("Items", []) or []
    return items


def _origin_access_controls(run: _Run) -> list[Found]:
    """OACs cannot be tagged: the name rule (``labkit-`` prefix) applies."""
    cf = run.client("cloudfront")
    out = []
    for page in cf.get_paginator("list_origin_access_controls").paginate():
        for oac in page.get("OriginAccessControlList", {}).get("Items", []) or []:
            lesson = run.by_name(oac["Name"])
            if lesson is None:
                continue

            def delete(i=oac["Id"]) -> None:
                cf.delete_origin_access_control(Id=i, IfMatch=cf.get_origin_access_control(Id=i)["ETag"])

            out.append(
                Found("cloudfront origin access control", oac["Name"], lesson, delete, detail="found by name (no tags)")
            )
    return out


def _beanstalk_apps(run: _Run) -> list[Found]:
    eb = run.client("elasticbeanstalk")
    out = []
    for app in eb.describe_applications().get("Applications", []):
        name = app["ApplicationName"]
        try:
            lesson = run.wanted(_tags(eb.list_tags_for_resource(ResourceArn=app["ApplicationArn"])["ResourceTags"]))
            how = "its environments are terminated with it"
        except _ERRORS:
            lesson, how = run.by_name(name), "found by name (no application tags on this backend)"
        if lesson is None:
            continue

        def delete(n=name) -> None:
            eb.delete_application(ApplicationName=n, TerminateEnvByForce=True)

        out.append(Found("beanstalk application", name, lesson, delete, detail=how))
    return out


def _vaults(run: _Run) -> list[Found]:
    glacier = run.client("glacier")
    out = []
    for vault in _paginate(glacier, "list_vaults", "VaultList"):
        name = vault["VaultName"]
        try:
            lesson = run.wanted(glacier.list_tags_for_vault(vaultName=name).get("Tags", {}))
            how = ""
        except _ERRORS:
            lesson, how = run.by_name(name), "found by name (no vault tags on this backend)"
        if lesson is not None:
            out.append(
                Found(
                    "glacier vault", name, lesson, lambda n=name: glacier.delete_vault(vaultName=n) and None, detail=how
                )
            )
    return out


# ----------------------------------------------------------------------------- the order


def clean_up(
    lesson: str | None = None,
    *,
    dry_run: bool = False,
    session: boto3.session.Session | None = None,
    region: str | None = None,
    use_tagging_api: bool = True,
    wait_seconds: float = 120.0,
) -> CleanupReport:
    """Delete (or, with ``dry_run``, list) every resource tagged ``labkit:lesson`` (= ``lesson`` if given).

    ``session`` defaults to a new boto3 session (the settings ``labkit.connect()`` made);
    ``use_tagging_api=False`` lists each service on its own instead of asking the Tagging API.
    """
    session = session or boto3.session.Session(region_name=region)
    run = _Run(session, lesson, dry_run, use_tagging_api)

    # Things that act on others first: scaling groups, alarms, mappings.
    run.delete(run.find("auto scaling group", lambda: _autoscaling_groups(run)))
    run.delete(run.find("cloudwatch alarm", lambda: _alarms(run)))
    run.delete(run.find("cloudwatch dashboard", lambda: _dashboards(run)))
    run.delete(run.find("beanstalk application", lambda: _beanstalk_apps(run)))
    functions = run.find("lambda function", lambda: _functions(run))
    run.delete(run.find("event source mapping", lambda: _event_source_mappings(run, functions)))
    run.delete(functions)
    lambda_logs = [(f"/aws/lambda/{f.name}", (f.name, f.lesson)) for f in functions]
    run.delete(run.find("log group", lambda: _log_groups(run, lambda_logs)))

    # Compute, then what instances use, then the network from the inside out.
    instances = run.find("ec2 instance", lambda: _instances(run))
    run.delete(instances)
    _wait_terminated(run, [i.name for i in instances], wait_seconds)
    run.delete(
        run.find(
            "ec2 launch template",
            lambda: _ec2_simple(
                "ec2 launch template",
                "describe_launch_templates",
                "LaunchTemplates",
                "LaunchTemplateId",
                "delete_launch_template",
                "LaunchTemplateId",
            )(run),
        )
    )
    run.delete(
        run.find(
            "ec2 volume",
            lambda: _ec2_simple("ec2 volume", "describe_volumes", "Volumes", "VolumeId", "delete_volume", "VolumeId")(
                run
            ),
        )
    )
    run.delete(
        run.find(
            "ec2 snapshot",
            lambda: _ec2_simple(
                "ec2 snapshot",
                "describe_snapshots",
                "Snapshots",
                "SnapshotId",
                "delete_snapshot",
                "SnapshotId",
                OwnerIds=["self"],
            )(run),
        )
    )
    run.delete(run.find("ec2 key pair", lambda: _key_pairs(run)))
    run.delete_with_retries(run.find("ec2 security group", lambda: _security_groups(run)))
    run.delete(run.find("ec2 route table", lambda: _route_tables(run)))
    run.delete(run.find("ec2 internet gateway", lambda: _internet_gateways(run)))
    run.delete(
        run.find(
            "ec2 subnet",
            lambda: _ec2_simple("ec2 subnet", "describe_subnets", "Subnets", "SubnetId", "delete_subnet", "SubnetId")(
                run
            ),
        )
    )
    run.delete(
        run.find(
            "ec2 vpc", lambda: _ec2_simple("ec2 vpc", "describe_vpcs", "Vpcs", "VpcId", "delete_vpc", "VpcId")(run)
        )
    )

    # Data and messaging.
    run.delete(run.find("rds snapshot", lambda: _rds_snapshots(run)))
    run.delete(run.find("rds instance", lambda: _rds_instances(run)))
    run.delete(run.find("dynamodb table", lambda: _tables(run)))
    run.delete(run.find("sns topic", lambda: _topics(run)))
    run.delete(run.find("sqs queue", lambda: _queues(run)))
    run.delete(run.find("glacier vault", lambda: _vaults(run)))

    # Edge: the distribution before its origin access control and its bucket.
    run.delete(run.find("cloudfront distribution", lambda: _distributions(run)))
    run.delete(run.find("cloudfront origin access control", lambda: _origin_access_controls(run)))
    run.delete(run.find("route53 hosted zone", lambda: _hosted_zones(run)))
    run.delete(run.find("s3 bucket", lambda: _buckets(run)))

    # Identity last: users, then roles (nothing above needs them any more), then policies.
    run.delete(run.find("iam user", lambda: _iam_users(run)))
    run.delete(run.find("iam role", lambda: _iam_roles(run)))
    run.delete(run.find("iam policy", lambda: _iam_policies(run)))
    return run.report
