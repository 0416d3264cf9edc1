"""Compute: Auto Scaling groups, EC2 instances (and the wait for their termination), launch templates,
volumes, snapshots, key pairs, Elastic Beanstalk applications."""

from __future__ import annotations

import time

from labkit.backends.aws import TAG_KEY
from labkit.ops.run import ERRORS, Found, Run, ec2_filters, ec2_simple, paginate, tags_of


def autoscaling_groups(run: Run) -> list[Found]:
    asg = run.client("autoscaling")
    filters = [{"Name": "key", "Values": [TAG_KEY]}] + (
        [{"Name": "value", "Values": [run.lesson]}] if run.lesson else []
    )
    out = []
    for tag in paginate(asg, "describe_tags", "Tags", Filters=filters):
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


def instances(run: Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=ec2_filters(run)):
        for inst in reservation["Instances"]:
            if inst["State"]["Name"] in ("terminated", "shutting-down"):
                continue
            iid = inst["InstanceId"]
            out.append(
                Found(
                    "ec2 instance",
                    iid,
                    tags_of(inst.get("Tags"))[TAG_KEY],
                    lambda i=iid: ec2.terminate_instances(InstanceIds=[i]) and "terminated",
                )
            )
    return out


def then_wait(run: Run, items: list[Found]) -> None:
    """Terminate the instances, then wait (``wait_seconds``): security groups, subnets and VPCs cannot go before."""
    run.delete(items)
    wait_terminated(run, [i.name for i in items if run.may_delete(i)], run.wait_seconds)


def wait_terminated(run: Run, instance_ids: list[str], wait_seconds: float) -> None:
    if run.dry_run or not instance_ids:
        return
    ec2 = run.client("ec2")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            reservations = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
        except ERRORS:
            return
        states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
        if all(s == "terminated" for s in states) or time.monotonic() >= deadline:
            return
        time.sleep(min(5.0, max(deadline - time.monotonic(), 0)))


launch_templates = ec2_simple(
    "ec2 launch template", "describe_launch_templates", "LaunchTemplates", "LaunchTemplateId", "delete_launch_template"
)
volumes = ec2_simple("ec2 volume", "describe_volumes", "Volumes", "VolumeId", "delete_volume")
snapshots = ec2_simple(
    "ec2 snapshot", "describe_snapshots", "Snapshots", "SnapshotId", "delete_snapshot", OwnerIds=["self"]
)


def key_pairs(run: Run) -> list[Found]:
    ec2 = run.client("ec2")
    pairs = ec2.describe_key_pairs(Filters=ec2_filters(run)).get("KeyPairs", [])
    return [
        Found(
            "ec2 key pair",
            p["KeyName"],
            tags_of(p.get("Tags"))[TAG_KEY],
            lambda n=p["KeyName"]: ec2.delete_key_pair(KeyName=n) and None,
        )
        for p in pairs
    ]


def beanstalk_apps(run: Run) -> list[Found]:
    eb = run.client("elasticbeanstalk")
    out = []
    for app in eb.describe_applications().get("Applications", []):
        name = app["ApplicationName"]
        arn = app["ApplicationArn"]
        lesson, how = run.tags_or_name(
            "beanstalk application",
            name,
            lambda a=arn: tags_of(eb.list_tags_for_resource(ResourceArn=a)["ResourceTags"]),
        )
        how = how or "its environments are terminated with it"
        if lesson is None:
            continue

        def delete(n=name) -> None:
            eb.delete_application(ApplicationName=n, TerminateEnvByForce=True)

        out.append(Found("beanstalk application", name, lesson, delete, detail=how))
    return out
