"""Which exercises pass on the current backend: ``labkit progress`` and ``labkit.exercises.show()``.

Every exercise of every lesson is registered here with the check its notebook calls
(``labkit.checks.<module>.<function>``) and a *finder*. Outside a notebook there are no notebook
variables, so the finder looks on the backend for what the exercise made: by the names the
lesson uses (``my-first-queue-<suffix>``, ``labkit-04-<suffix>-steps.fifo``, ...) or by the
``labkit:lesson`` tag a lesson puts on what it creates (``tags=lab.tag_dict``). The real check
then runs on what was found, and the line it prints is captured as the row's detail. Nothing
is read from a file or a flag a learner could set: progress is the backend's state, now.

Statuses (``ExerciseResult.status``):

- ``pass``: the check passes on something found (several attempts: any one passing counts);
- ``not yet``: found, and the check gives a hint (the first attempt's hint is shown);
- ``not started``: nothing found. Every lesson ends with a Clean up cell that deletes what it
  created, so a lesson that was finished and cleaned up reads "not started" too;
- ``unavailable``: it cannot be checked here: the backend is down or lacks the service, or the
  exercise's result lives only in the notebook's kernel (its check cell is the only record).

:func:`run_all` never raises for a backend problem. It reads the credentials in ``os.environ``
when it is called (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), so a caller can check one
learner's account after another by changing them (on MiniStack a 12-digit key id is an account).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import boto3
import botocore.exceptions

from labkit import config
from labkit.aws.errors import error_code
from labkit.backends import aws
from labkit.checks._report import CheckFailed
from labkit.errors import LabkitError
from labkit.lab import UNAVAILABLE_PREFIX

PASS, NOT_YET, NOT_STARTED, UNAVAILABLE = "pass", "not yet", "not started", "unavailable"
STATUSES = (PASS, NOT_YET, NOT_STARTED, UNAVAILABLE)
NOTEBOOK_ONLY = "checked in the notebook only"
SUFFIX = r"[0-9a-f]{8}"  # the lessons' uuid4().hex[:8]

# Each lesson's labkit:lesson tag (the lesson= of its labkit.connect call).
LESSONS = {
    "00": "00-start-here",
    "01": "01-ec2-and-ebs",
    "02": "02-s3-and-glacier",
    "03": "03-lambda",
    "04": "04-sqs-standard-vs-fifo",
    "05": "05-dead-letter-queues",
    "06": "06-webhooks",
    "07": "07-scaling",
    "08": "08-sqs-triggers-lambda",
    "09": "09-databases",
    "10": "10-networking",
    "11": "11-iam-and-cloudwatch",
}

# Queues the lessons' demos create (after ``labkit-NN-<suffix>-``): never a learner's attempt.
DEMO_QUEUES = {
    "04": ("bench", "bench.fifo", "charges", "lanes.fifo", "orders", "orders.fifo", "payments.fifo", "receipts.fifo",
           "standard"),
    "05": ("invoices", "invoices-dlq", "no-dlq", "oncall-inbox", "orders", "orders-dlq"),
}  # fmt: skip
CLASSROOM_URL = "LABKIT_CLASSROOM_URL"  # set on a classroom learner's machine (labkit/classroom.py)
NOTES_ORIGINAL = b"meeting notes: ship on Friday"  # lesson 02's first version of notes.txt


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Attempt:
    """Something a finder found: the arguments for the check, or (``detail``) why it cannot pass yet."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Exercise:
    lesson: str  # "04"
    number: int  # 1, 2, ... in the lesson's order
    title: str
    check: str  # "<module>.<function>" under labkit.checks, as the notebook's check cell calls it
    looks_for: str  # what the finder looks for, said when it finds nothing
    find: Callable[[_Scan], list[Attempt]] | None = None
    notebook_only: str = ""  # why the result cannot be read from the backend (then find is None)

    @property
    def key(self) -> str:
        return f"{self.lesson}.{self.number}"

    def check_function(self) -> Callable:
        module, function = self.check.split(".")
        return getattr(importlib.import_module(f"labkit.checks.{module}"), function)


@dataclass(frozen=True)
class ExerciseResult:
    lesson: str
    number: int
    title: str
    status: str  # one of STATUSES
    detail: str  # one line

    @property
    def key(self) -> str:
        return f"{self.lesson}.{self.number}"

    @property
    def passed(self) -> bool:
        return self.status == PASS


# ----------------------------------------------------------------------------- what is on the backend


def _tag_value(tags) -> str | None:
    """The labkit:lesson value from a {Key: Value} mapping or a [{"Key", "Value"}] list."""
    if isinstance(tags, dict):
        return tags.get(aws.TAG_KEY)
    for tag in tags or []:
        if tag.get("Key") == aws.TAG_KEY:
            return tag.get("Value")
    return None


def _name_tag(tags) -> str:
    return next((t["Value"] for t in tags or [] if t.get("Key") == "Name"), "")


def _suffix(pattern: str, name: str) -> str | None:
    """The suffix when ``name`` matches ``pattern`` (which contains one ``{s}``), else None."""
    match = re.fullmatch(pattern.replace(".", r"\.").format(s=f"({SUFFIX})"), name)
    return match.group(1) if match else None


class _Scan:
    """One look at the backend: clients from boto3's default session, listings made once."""

    def __init__(self) -> None:
        self._clients: dict[str, object] = {}
        self._memo: dict[tuple, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = boto3.client(service)
        return self._clients[service]

    def _once(self, key: tuple, make: Callable):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def _pages(self, service: str, operation: str, key: str, **kwargs) -> list:
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    # SQS
    def queues(self) -> dict[str, str]:
        """Queue name → URL."""
        urls = self._once(("sqs",), lambda: self._pages("sqs", "list_queues", "QueueUrls"))
        return {url.rsplit("/", 1)[-1]: url for url in urls}

    def queue_attributes(self, name: str) -> dict:
        url = self.queues()[name]

        def read():
            sqs = self.client("sqs")
            try:
                return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            except sqs.exceptions.QueueDoesNotExist:  # deleted since the listing
                return {}

        return self._once(("sqs-attrs", name), read)

    def newest_queues_first(self, names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda n: -int(self.queue_attributes(n).get("CreatedTimestamp", 0)))

    def queue_lesson(self, name: str) -> str | None:
        url = self.queues()[name]

        def read():
            sqs = self.client("sqs")
            try:
                return _tag_value(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))
            except sqs.exceptions.QueueDoesNotExist:
                return None

        return self._once(("sqs-tags", name), read)

    def queues_matching(self, pattern: str) -> list[str]:
        return self.newest_queues_first(n for n in self.queues() if _suffix(pattern, n))

    def learner_queues(self, lesson: str, demo: Iterable[str] = ()) -> list[str]:
        """Queues tagged with the lesson that are not one of its demos: named by the learner."""
        demo_patterns = [f"labkit-{lesson}-{{s}}-{d}" for d in demo] + [f"labkit-{lesson}-{{s}}"]
        return self.newest_queues_first(
            n
            for n in self.queues()
            if self.queue_lesson(n) == LESSONS[lesson] and not any(_suffix(p, n) for p in demo_patterns)
        )

    # S3, DynamoDB, Lambda, SNS
    def buckets(self) -> list[str]:
        found = self._once(("s3",), lambda: self.client("s3").list_buckets().get("Buckets", []))
        return [b["Name"] for b in sorted(found, key=lambda b: b.get("CreationDate") or 0, reverse=True)]

    def tables(self) -> list[str]:
        return self._once(("dynamodb",), lambda: self._pages("dynamodb", "list_tables", "TableNames"))

    def table_lesson(self, name: str) -> str | None:
        def read():
            dynamodb = self.client("dynamodb")
            arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
            return _tag_value(dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", []))

        return self._once(("dynamodb-tags", name), read)

    def functions(self) -> list[dict]:
        found = self._once(("lambda",), lambda: self._pages("lambda", "list_functions", "Functions"))
        return sorted(found, key=lambda f: f.get("LastModified", ""), reverse=True)

    def function_lesson(self, function: dict) -> str | None:
        arn = function["FunctionArn"]
        return self._once(
            ("lambda-tags", arn), lambda: _tag_value(self.client("lambda").list_tags(Resource=arn).get("Tags", {}))
        )

    def topics(self) -> dict[str, str]:
        """Topic name → ARN."""
        arns = self._once(("sns",), lambda: [t["TopicArn"] for t in self._pages("sns", "list_topics", "Topics")])
        return {arn.rsplit(":", 1)[-1]: arn for arn in arns}

    def topic_lesson(self, arn: str) -> str | None:
        return self._once(
            ("sns-tags", arn),
            lambda: _tag_value(self.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags", [])),
        )

    def http_endpoints(self, topic_arn: str) -> list[str]:
        subs = self._pages("sns", "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn)
        return [s["Endpoint"] for s in subs if s.get("Protocol") in ("http", "https")]

    # EC2
    def vpcs_named(self, pattern: str) -> dict[str, str]:
        """VPC id → suffix, for VPCs whose Name tag matches ``pattern``."""
        vpcs = self._once(("ec2-vpcs",), lambda: self._pages("ec2", "describe_vpcs", "Vpcs"))
        found = {v["VpcId"]: _suffix(pattern, _name_tag(v.get("Tags"))) for v in vpcs}
        return {vpc: s for vpc, s in found.items() if s}

    def security_groups(self, **kwargs) -> list[dict]:
        return self._pages("ec2", "describe_security_groups", "SecurityGroups", **kwargs)


def _newest(items: list[dict], key: str) -> list[dict]:
    return sorted(items, key=lambda i: str(i.get(key, "")), reverse=True)


def _attempts(names: Iterable[str], **kwargs) -> list[Attempt]:
    return [Attempt(n, (n,), kwargs) for n in dict.fromkeys(names)]


# ----------------------------------------------------------------------------- finders, one per exercise


def _first_queue(scan: _Scan) -> list[Attempt]:
    return _attempts(scan.queues_matching("my-first-queue-{s}") + scan.learner_queues("00"))


def _web_group(scan: _Scan) -> list[Attempt]:
    groups = [g for g in scan.security_groups() if _suffix("labkit-01-web-{s}", g.get("GroupName", ""))]
    return [Attempt(g["GroupName"], (g["GroupId"],)) for g in groups]


def _second_disk(scan: _Scan) -> list[Attempt]:
    ec2 = scan.client("ec2")
    alive = {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    found: dict[str, dict] = {}
    for filters in (
        [{"Name": "vpc-id", "Values": list(scan.vpcs_named("labkit-01-{s}"))}, alive],
        [{"Name": f"tag:{aws.TAG_KEY}", "Values": [LESSONS["01"]]}, alive],
    ):
        if filters[0]["Values"]:
            for reservation in scan._pages("ec2", "describe_instances", "Reservations", Filters=filters):
                found.update({i["InstanceId"]: i for i in reservation["Instances"]})
    # The lesson's own web server is named labkit-01-web-<suffix>; any other instance is the learner's.
    mine = [i for i in found.values() if not _suffix("labkit-01-web-{s}", _name_tag(i.get("Tags")))]
    volumes, bare = [], []
    for instance in _newest(mine, "LaunchTime"):
        iid = instance["InstanceId"]
        attached = scan._pages(
            "ec2", "describe_volumes", "Volumes", Filters=[{"Name": "attachment.instance-id", "Values": [iid]}]
        )
        extra = [
            v
            for v in attached
            if all(a.get("Device") != instance.get("RootDeviceName") for a in v.get("Attachments", []))
        ]
        if not extra:  # a volume made for the exercise but not attached (yet, or in another zone): the check says
            loose = ec2.describe_volumes(
                Filters=[
                    {"Name": f"tag:{aws.TAG_KEY}", "Values": [LESSONS["01"]]},
                    {"Name": "status", "Values": ["available"]},
                ]
            )["Volumes"]
            extra = [v for v in loose if _name_tag(v.get("Tags")) not in ("data", "restored")]  # the lesson's own
        volumes += [(v, iid) for v in extra]
        if not extra:
            bare.append(
                Attempt(
                    iid,
                    detail=f"your instance {iid} is {instance['State']['Name']}, but no volume of yours is attached "
                    "to it yet: create_volume (1 GiB gp3, same zone), then attach_volume at /dev/sdg",
                )
            )
    volumes.sort(key=lambda pair: not any(a.get("Device") == "/dev/sdg" for a in pair[0]["Attachments"]))
    return [Attempt(v["VolumeId"], (v["VolumeId"], iid), {"device": "/dev/sdg"}) for v, iid in volumes] + bare


def _lesson_02_buckets(scan: _Scan) -> list[str]:
    return [b for b in scan.buckets() if _suffix("labkit-02-{s}", b)]


def _notes_bucket(scan: _Scan) -> list[Attempt]:
    return [Attempt(b, (b, "notes.txt", NOTES_ORIGINAL)) for b in _lesson_02_buckets(scan)]


def _archive_bucket(scan: _Scan) -> list[Attempt]:
    return _attempts(_lesson_02_buckets(scan), prefix="archive/")


def _shout_functions(scan: _Scan) -> list[str]:
    named = [f["FunctionName"] for f in scan.functions() if _suffix("labkit-03-shout-{s}", f["FunctionName"])]
    demo = ("labkit-03-hello-{s}", "labkit-03-upload-{s}", "labkit-03-shout-{s}")
    tagged = [
        f["FunctionName"]
        for f in scan.functions()
        if not any(_suffix(p, f["FunctionName"]) for p in demo) and scan.function_lesson(f) == LESSONS["03"]
    ]
    return named + tagged


def _shouts(scan: _Scan) -> list[Attempt]:
    return _attempts(_shout_functions(scan))


def _configured(scan: _Scan) -> list[Attempt]:
    return _attempts(_shout_functions(scan), timeout=5, punctuation="!!!")


def _steps_queue(scan: _Scan) -> list[Attempt]:
    learner = [n for n in scan.learner_queues("04", DEMO_QUEUES["04"]) if n.endswith(".fifo")]
    return _attempts(
        scan.queues_matching("labkit-04-{s}-steps.fifo") + scan.queues_matching("labkit-04-{s}-steps") + learner
    )


def _jobs_queue(scan: _Scan) -> list[Attempt]:
    learner = [
        n
        for n in scan.learner_queues("04", DEMO_QUEUES["04"])
        if not n.endswith(".fifo") and not _suffix("labkit-04-{s}-steps", n)
    ]
    return _attempts(scan.queues_matching("labkit-04-{s}-jobs") + learner, expected=25)


def _dlq_pairs(scan: _Scan) -> list[tuple[str, str]]:
    """(queue, DLQ) name pairs for lesson 05's exercises: the lesson's names, then tagged queues with a DLQ."""
    pairs = []
    prefixes = {
        f"labkit-05-{s}"
        for n in scan.queues()
        for s in (_suffix("labkit-05-{s}-my-queue", n), _suffix("labkit-05-{s}-my-dlq", n))
        if s
    }
    for prefix in sorted(prefixes):
        queue, dlq = f"{prefix}-my-queue", f"{prefix}-my-dlq"
        if queue in scan.queues():
            target = _redrive_target(scan, queue)
            dlq = target or dlq
        pairs.append((queue, dlq))
    for name in scan.learner_queues("05", (*DEMO_QUEUES["05"], "my-queue", "my-dlq")):
        target = _redrive_target(scan, name)
        if target:
            pairs.append((name, target))
    return pairs


def _redrive_target(scan: _Scan, queue: str) -> str | None:
    policy = scan.queue_attributes(queue).get("RedrivePolicy")
    if not policy:
        return None
    match = re.search(r'"deadLetterTargetArn"\s*:\s*"([^"]+)"', policy)
    return match.group(1).rsplit(":", 1)[-1] if match else None


def _redrive(scan: _Scan) -> list[Attempt]:
    return [Attempt(q, (q, d), {"max_receive_count": 2}) for q, d in _dlq_pairs(scan)]


def _poison(scan: _Scan) -> list[Attempt]:
    return [Attempt(q, (q, d)) for q, d in _dlq_pairs(scan)]


def _stats_table(scan: _Scan) -> list[Attempt]:
    tables = [t for t in scan.tables() if _suffix("labkit-06-{s}-mail-stats", t)]
    return [Attempt(t, (t, "m-1003"), {"expected": 1}) for t in tables]


def _alerts_topic(scan: _Scan) -> list[Attempt]:
    topics = scan.topics()
    named = [n for n in topics if _suffix("labkit-06-{s}-bounce-alerts", n)]
    demo = ("labkit-06-{s}-bounce-alerts", "labkit-06-{s}-mail-events")
    tagged = [
        n for n in topics if not any(_suffix(p, n) for p in demo) and scan.topic_lesson(topics[n]) == LESSONS["06"]
    ]
    firsts = {n: _suffix("labkit-06-{s}-mail-events", n) for n in topics}
    attempts = []
    for name in named + tagged:
        # The receiver's /sns URL lives in the kernel. A subscription to it names it, as does the one the lesson
        # made from its first topic (labkit-06-<suffix>-mail-events, same run) to the same receiver.
        mine = [e for e in scan.http_endpoints(topics[name]) if e.endswith("/sns")]
        run = _suffix("labkit-06-{s}-bounce-alerts", name)
        same_run = [n for n, s in firsts.items() if s and (run is None or s == run)]
        receivers = [e for n in same_run for e in scan.http_endpoints(topics[n])]
        for endpoint in dict.fromkeys(mine or receivers or [""]):
            attempts.append(Attempt(name, (name, endpoint)))
    return attempts


def _scaling_group(scan: _Scan) -> list[Attempt]:
    groups = scan._pages("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups")
    names = [g["AutoScalingGroupName"] for g in _newest(groups, "CreatedTime")]
    return [Attempt(n, (n, "scale-out-steps")) for n in names if _suffix("labkit-07-consumers-{s}", n)]


def _exercise_queue(scan: _Scan) -> list[tuple[str, str]]:
    """(queue URL, recorder function) of lesson 08's exercise: the recorder has the queue's suffix."""
    found = []
    for name in scan.queues_matching("labkit-08-exercise-{s}"):
        found.append((scan.queues()[name], f"labkit-08-recorder-{_suffix('labkit-08-exercise-{s}', name)}"))
    return found


def _batch_settings(scan: _Scan) -> list[Attempt]:
    return [
        Attempt(url.rsplit("/", 1)[-1], (url, fn), {"batch_size": 3, "max_concurrency": 2})
        for url, fn in _exercise_queue(scan)
    ]


def _reports_failures(scan: _Scan) -> list[Attempt]:
    return [Attempt(url.rsplit("/", 1)[-1], (url, fn)) for url, fn in _exercise_queue(scan)]


def _sessions_table(scan: _Scan) -> list[Attempt]:
    named = [t for t in scan.tables() if _suffix("labkit-09-sessions-{s}", t)]
    demo = ("labkit-09-sessions-{s}", "labkit-09-orders-{s}")
    tagged = [
        t for t in scan.tables() if not any(_suffix(p, t) for p in demo) and scan.table_lesson(t) == LESSONS["09"]
    ]
    return _attempts(named + tagged)


def _backups(scan: _Scan) -> list[Attempt]:
    rds = scan.client("rds")
    instances = _newest(scan._pages("rds", "describe_db_instances", "DBInstances"), "InstanceCreateTime")
    attempts = []
    for db in (
        i["DBInstanceIdentifier"] for i in instances if _suffix("labkit-09-shop-{s}", i["DBInstanceIdentifier"])
    ):
        snapshots = [
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots(DBInstanceIdentifier=db, SnapshotType="manual")["DBSnapshots"]
            if s["DBSnapshotIdentifier"] != f"{db}-before-migration"  # the lesson's own snapshot
        ]
        wanted = f"{db}-pre-upgrade"  # the name the lesson asks for first, then any other manual snapshot
        for snapshot in [wanted, *(s for s in snapshots if s != wanted)]:
            attempts.append(Attempt(db, (db, snapshot), {"retention_days": 30}))
    return attempts


def _db_group(scan: _Scan) -> list[Attempt]:
    attempts = []
    for vpc_id, suffix in scan.vpcs_named("labkit-10-{s}").items():
        groups = scan.security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        web = [g["GroupId"] for g in groups if g["GroupName"] == f"web-{suffix}"]
        others = [g for g in groups if g["GroupName"] not in ("default", f"web-{suffix}")]
        others.sort(key=lambda g: g["GroupName"] != f"db-{suffix}")
        attempts += [Attempt(g["GroupName"], (g["GroupId"], vpc_id, web[0])) for g in others if web]
    return attempts


def _apex(scan: _Scan) -> list[Attempt]:
    route53 = scan.client("route53")
    zones = [
        z
        for z in scan._pages("route53", "list_hosted_zones", "HostedZones")
        if _suffix("shop-{s}.example.com.", z["Name"])
    ]
    attempts = []
    for zone in zones:
        suffix = _suffix("shop-{s}.example.com.", zone["Name"])
        cdn = _cdn_domain(scan, suffix)
        if cdn is None:  # no distribution of this run: read the target the lesson gave www.<zone>
            records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
            www = [r for r in records if r["Name"] == f"www.{zone['Name']}" and r.get("AliasTarget")]
            cdn = www[0]["AliasTarget"]["DNSName"].rstrip(".") if www else None
        if cdn is None:
            attempts.append(
                Attempt(zone["Name"], detail=f"{zone['Name']} is there, but not the lesson's CloudFront distribution")
            )
        else:
            attempts.append(Attempt(zone["Name"], (zone["Id"], zone["Name"].rstrip("."), cdn)))
    return attempts


def _cdn_domain(scan: _Scan, suffix: str) -> str | None:
    listing = scan._once(("cloudfront",), lambda: scan.client("cloudfront").list_distributions()["DistributionList"])
    for item in listing.get("Items", []):
        origins = item.get("Origins", {}).get("Items", [])
        if any(o.get("DomainName", "").startswith(f"labkit-10-site-{suffix}.") for o in origins):
            return item["DomainName"]
    return None


def _latency_alarm(scan: _Scan) -> list[Attempt]:
    alarms = _newest(scan._pages("cloudwatch", "describe_alarms", "MetricAlarms"), "AlarmConfigurationUpdatedTimestamp")
    attempts = []
    for alarm in alarms:
        name = alarm["AlarmName"]
        suffix = _suffix("labkit-11-latency-{s}", name)
        if suffix:
            attempts.append(Attempt(name, (name, f"Labkit/Shop-{suffix}"), {"wait_s": 0}))
        elif alarm.get("MetricName") == "CheckoutLatency" and alarm.get("Namespace", "").startswith("Labkit/Shop-"):
            attempts.append(Attempt(name, (name, alarm["Namespace"]), {"wait_s": 0}))
    return attempts


# looks_for: what the finder looks for, said when it finds nothing ("tagged": with the lesson's labkit:lesson tag).
EXERCISES: tuple[Exercise, ...] = (
    Exercise("00", 1, "your first queue", "start_here.first_queue",
             "queue my-first-queue-<suffix> or tagged 00-start-here", _first_queue),
    Exercise("01", 1, "open HTTPS", "ec2_ebs.https_open", "security group labkit-01-web-<suffix>", _web_group),
    Exercise("01", 2, "a server with a second disk", "ec2_ebs.volume_attached",
             "instance of yours in VPC labkit-01-<suffix>, or tagged", _second_disk),
    Exercise("02", 1, "bring back the notes", "s3_glacier.restored_version", "bucket labkit-02-<suffix>",
             _notes_bucket),
    Exercise("02", 2, "an archive rule", "s3_glacier.archive_rule", "bucket labkit-02-<suffix>", _archive_bucket),
    Exercise("03", 1, "a function of your own", "lambda_functions.shouts",
             "function labkit-03-shout-<suffix> or a tagged one", _shouts),
    Exercise("03", 2, "configure, don't redeploy", "lambda_functions.configured",
             "function labkit-03-shout-<suffix> or a tagged one", _configured),
    Exercise("04", 1, "steps in order, sent twice", "sqs_queues.steps_in_order",
             "queue labkit-04-<suffix>-steps.fifo or a tagged FIFO queue", _steps_queue),
    Exercise("04", 2, "a backlog in batches", "sqs_queues.batched_jobs",
             "queue labkit-04-<suffix>-jobs or a tagged standard queue", _jobs_queue),
    Exercise("05", 1, "a queue with a DLQ", "dead_letters.redrive_policy",
             "queue labkit-05-<suffix>-my-queue/-my-dlq or a tagged pair", _redrive),
    Exercise("05", 2, "poison it", "dead_letters.poison_in_dlq",
             "queue labkit-05-<suffix>-my-queue/-my-dlq or a tagged pair", _poison),
    Exercise("06", 1, "count bounces", "webhooks.bounces_counted", "table labkit-06-<suffix>-mail-stats",
             _stats_table),
    Exercise("06", 2, "a second topic", "webhooks.sns_confirmed",
             "topic labkit-06-<suffix>-bounce-alerts or a tagged one", _alerts_topic),
    Exercise("07", 1, "tune the step rule", "scaling.tuned_rule", "",
             notebook_only="my_rule and my_cooldown exist only in your kernel"),
    Exercise("07", 2, "a step policy", "scaling.step_policy", "Auto Scaling group labkit-07-consumers-<suffix>",
             _scaling_group),
    Exercise("08", 1, "your own mapping", "sqs_lambda.batch_settings", "queue labkit-08-exercise-<suffix>",
             _batch_settings),
    Exercise("08", 2, "only the failures", "sqs_lambda.reports_failures", "queue labkit-08-exercise-<suffix>",
             _reports_failures),
    Exercise("09", 1, "a session table", "databases.session_table",
             "table labkit-09-sessions-<suffix> or a tagged one", _sessions_table),
    Exercise("09", 2, "before a risky change", "databases.backups_ready", "DB instance labkit-09-shop-<suffix>",
             _backups),
    Exercise("10", 1, "a database firewall", "networking.db_security_group",
             "security group of yours in VPC labkit-10-<suffix>", _db_group),
    Exercise("10", 2, "the bare domain", "networking.apex_alias", "hosted zone shop-<suffix>.example.com", _apex),
    Exercise("11", 1, "least privilege", "iam_cloudwatch.writes_only_to", "",
             notebook_only="it writes as the reader, whose secret key only your kernel has"),
    Exercise("11", 2, "an alarm of your own", "iam_cloudwatch.latency_alarm_fires",
             "alarm labkit-11-latency-<suffix> or on CheckoutLatency", _latency_alarm),
)  # fmt: skip


# ----------------------------------------------------------------------------- running


def _lessons(lessons: Iterable[str | int] | None) -> list[str]:
    """Two-digit lesson numbers; ``4``, ``"04"`` and ``"04-sqs-standard-vs-fifo"`` all mean ``"04"``."""
    if lessons is None:
        return list(LESSONS)
    if isinstance(lessons, str | int):
        lessons = [lessons]
    chosen = []
    for lesson in lessons:
        match = re.fullmatch(r"(\d{1,2})(-[a-z0-9-]+)?", str(lesson).strip())
        number = f"{int(match.group(1)):02d}" if match else None
        if number not in LESSONS:
            raise ValueError(f"no lesson {lesson!r}: the lessons are {', '.join(LESSONS)}")
        chosen.append(number)
    return chosen


def _why(err: Exception) -> str:
    if isinstance(err, botocore.exceptions.ClientError):
        return f"the backend said {error_code(err)}"
    return f"{type(err).__name__}: {err}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _call_check(exercise: Exercise, attempt: Attempt) -> tuple[str, str]:
    """Run the real check on what was found; (status, its line). What it prints is captured, not shown."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            result = exercise.check_function()(*attempt.args, **attempt.kwargs)
    except CheckFailed as err:  # LABKIT_CHECKS_MUST_PASS=1 (the test suite) turns a hint into this
        return NOT_YET, _one_line(str(err))
    except Exception as err:  # checks never raise; in case one does, it is still only this row
        return NOT_YET, _one_line(_why(err))
    printed = [line for line in out.getvalue().splitlines() if line.strip()]
    last = printed[-1] if printed else ""
    if last.startswith(UNAVAILABLE_PREFIX):
        return UNAVAILABLE, _one_line(last[len(UNAVAILABLE_PREFIX) :])
    message = _one_line(getattr(result, "message", "") or last)
    return (PASS if result else NOT_YET), message


def _run_one(exercise: Exercise, scan: _Scan) -> ExerciseResult:
    def result(status: str, detail: str) -> ExerciseResult:
        return ExerciseResult(exercise.lesson, exercise.number, exercise.title, status, detail)

    if exercise.find is None:
        return result(UNAVAILABLE, f"{NOTEBOOK_ONLY}: {exercise.notebook_only}")
    try:
        attempts = exercise.find(scan)
    except Exception as err:  # a service this backend lacks, access denied, the backend went away...
        return result(UNAVAILABLE, f"could not look for the {exercise.looks_for}: {_one_line(_why(err))}")
    if not attempts:
        return result(NOT_STARTED, f"or cleaned up: no {exercise.looks_for}")
    hints = []
    for attempt in attempts:
        if attempt.detail:
            hints.append(attempt.detail)
            continue
        status, line = _call_check(exercise, attempt)
        if status in (PASS, UNAVAILABLE):
            return result(status, line)
        hints.append(line if attempt.label in line else f"{attempt.label}: {line}")
    more = f" (and {len(attempts) - 1} other attempt(s) found, none passing)" if len(attempts) > 1 else ""
    return result(NOT_YET, hints[0] + more)


@dataclass
class Progress:
    """What :func:`report` found: the backend it asked (or why it could not), and one result per exercise."""

    backend: str  # "labkit progress · backend embedded · region us-east-1", or the one line saying it is down
    results: list[ExerciseResult]
    reachable: bool = True

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        return (
            f"{counts[PASS]} of {len(self.results)} pass · {counts[NOT_YET]} not yet · "
            f"{counts[NOT_STARTED]} not started (or cleaned up) · {counts[UNAVAILABLE]} unavailable"
        )

    def table(self, width: int | None = None) -> str:
        """The results as a compact table with a total; ``width`` cuts long details to fit."""
        if not self.reachable:
            return self.backend
        marks = {PASS: "✓", NOT_YET: "✗", NOT_STARTED: "·", UNAVAILABLE: "–"}
        title_width = max((len(r.title) for r in self.results), default=8)
        lines = [self.backend, f"{'':<5} {'exercise':<{title_width}}  {'status':<13}  detail"]
        for r in self.results:
            row = f"{r.key:<5} {r.title:<{title_width}}  {marks[r.status]} {r.status:<11}  "
            detail = r.detail
            if width and len(row) + len(detail) > width:
                detail = detail[: max(width - len(row) - 1, 10)] + "…"
            lines.append(row + detail)
        lines.append(f"total: {self.summary()}")
        if any(line.endswith("…") for line in lines):
            lines.append("(details cut to fit: --lesson NN, or labkit.exercises.show(), shows them whole)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _connect(backend: str | None, allow_real_aws: bool) -> tuple[str | None, str]:
    """Point boto3 at the backend the lessons use; (None, header) or (why it is unreachable, "")."""
    import labkit
    from labkit.backends import embedded

    caller_credentials = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if os.environ.get(k)}
    try:
        name = config.resolve_backend(backend)
        if name == "embedded" and not os.environ.get(CLASSROOM_URL):  # a classroom's room is checked by connect()
            state = embedded.read_state()
            if state is None or not embedded.healthy(state):  # do not start an empty backend just to look at it
                return "the embedded backend is not running: nothing to check (`labkit up` or a lesson starts it)", ""
        lab = labkit.connect(backend=name, allow_real_aws=allow_real_aws, show=False)
    except (LabkitError, ValueError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        return f"cannot reach the backend: {_one_line(str(err))}", ""
    # connect() puts the emulators' dummy keys in the environment; keep the caller's (a classroom
    # learner's 12-digit key id is their account) and let the next boto3.client(...) read them.
    os.environ.update(caller_credentials)
    boto3.DEFAULT_SESSION = None
    header = f"labkit progress · backend {lab.backend} · region {lab.region}"
    if lab.account:
        header += f" · account {lab.account}"
    return None, header


def report(lessons: Iterable[str | int] | str | int | None = None, *, backend: str | None = None,
           allow_real_aws: bool = False) -> Progress:  # fmt: skip
    """Check every exercise (or those of ``lessons``) on the backend; never raises for a backend problem."""
    chosen = _lessons(lessons)
    exercises = [e for e in EXERCISES if e.lesson in chosen]
    down, header = _connect(backend, allow_real_aws)
    if down:
        results = [ExerciseResult(e.lesson, e.number, e.title, UNAVAILABLE, down) for e in exercises]
        return Progress(down, results, reachable=False)
    scan = _Scan()
    return Progress(header, [_run_one(e, scan) for e in exercises])


def run_all(lessons: Iterable[str | int] | str | int | None = None, *, backend: str | None = None,
            allow_real_aws: bool = False) -> list[ExerciseResult]:  # fmt: skip
    """One :class:`ExerciseResult` per exercise of ``lessons`` (default: all), from the backend's state now.

    ``backend`` as for ``labkit.connect`` (default: ``LABKIT_BACKEND``, else embedded). The credentials
    in ``os.environ`` at call time are used. It never raises for a backend problem (down, a service
    missing, access denied): those become ``unavailable`` rows that say why. A lesson number that
    does not exist is a ``ValueError``.
    """
    return report(lessons, backend=backend, allow_real_aws=allow_real_aws).results


def show(lessons: Iterable[str | int] | str | int | None = None) -> None:
    """Print the progress table: ``labkit.exercises.show()`` in a notebook cell, ``labkit progress`` in a shell."""
    print(report(lessons).table())
