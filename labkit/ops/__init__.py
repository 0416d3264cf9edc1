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
- ``describe_stacks`` for CloudFormation stacks (each carries its tags), deleted first and awaited
  (``wait_seconds``), so that what a stack made goes with it (``stacks.py``);
- the service's own tag calls where the Tagging API does not cover it: IAM roles, users and
  policies, Route 53 hosted zones, CloudFront distributions (global), CloudWatch dashboards,
  Elastic Beanstalk applications, Glacier vaults.

Resources that belong to a tagged one go with it, without a tag of their own: a Lambda
function's event source mappings and its ``/aws/lambda/<name>`` log group, a role's policy
attachments and inline policies, a user's access keys, a topic's subscriptions, a hosted zone's
records, a bucket's object versions, an Auto Scaling group's instances.

The name rule: a resource is matched by name only if its name starts with ``labkit-`` (with a
lesson filter, ``labkit-NN-``) **and** no tag lookup is possible for it: CloudFront origin access
controls (they cannot be tagged), and, on an emulator only (``name_rule=True``), Glacier vaults,
CloudWatch dashboards or Beanstalk applications whose tag call the backend lacks. A resource that
could carry a tag but does not is never deleted, and one whose tags could not be *read* (AccessDenied
and the like, or any error on real AWS) is left alone and reported, never matched by its name.

Nothing waits long: a CloudFront distribution is disabled and reported "disabled; delete it
again later"; RDS instances and Auto Scaling groups finish deleting on their own. Only the deletion of
CloudFormation stacks and the termination of EC2 instances are awaited (``wait_seconds``): a stack's
resources are its to delete, and security groups, subnets and VPCs cannot go before the instances.
"""

from __future__ import annotations

from collections.abc import Collection

import boto3

from labkit.ops import compute, data, identity, monitoring, network, stacks
from labkit.ops.report import CleanupReport, Entry
from labkit.ops.run import Found, Run, Step, plainly, with_retries

__all__ = ["ORDER", "CleanupReport", "Entry", "Found", "Step", "clean_up"]

# The order of deletion: dependents before what they depend on. Each kind is listed once per run
# (the mappings' step lists the functions too, so their step reuses that list).
ORDER: tuple[Step, ...] = (
    # A stack first, awaited: what it made goes with it.
    Step(stacks.KIND, stacks.stacks, plainly),
    # Things that act on others first: scaling groups, alarms, mappings.
    Step("auto scaling group", compute.autoscaling_groups, plainly),
    Step("cloudwatch alarm", monitoring.alarms, plainly),
    Step("cloudwatch dashboard", monitoring.dashboards, plainly),
    Step("beanstalk application", compute.beanstalk_apps, plainly),
    Step("event source mapping", monitoring.event_source_mappings, plainly),
    Step("lambda function", monitoring.functions, plainly),
    Step("log group", monitoring.log_groups, plainly),
    # Compute, then what instances use, then the network from the inside out.
    Step("ec2 instance", compute.instances, compute.then_wait),
    Step("ec2 launch template", compute.launch_templates, plainly),
    Step("ec2 volume", compute.volumes, plainly),
    Step("ec2 snapshot", compute.snapshots, plainly),
    Step("ec2 key pair", compute.key_pairs, plainly),
    Step("ec2 security group", network.security_groups, with_retries),
    Step("ec2 route table", network.route_tables, plainly),
    Step("ec2 internet gateway", network.internet_gateways, plainly),
    Step("ec2 subnet", network.subnets, plainly),
    Step("ec2 vpc", network.vpcs, plainly),
    # Data and messaging.
    Step("rds snapshot", data.rds_snapshots, plainly),
    Step("rds instance", data.rds_instances, plainly),
    Step("dynamodb table", data.tables, plainly),
    Step("sns topic", data.topics, plainly),
    Step("sqs queue", data.queues, plainly),
    Step("glacier vault", data.vaults, plainly),
    # Edge: the distribution before its origin access control and its bucket.
    Step("cloudfront distribution", network.distributions, plainly),
    Step("cloudfront origin access control", network.origin_access_controls, plainly),
    Step("route53 hosted zone", network.hosted_zones, plainly),
    Step("s3 bucket", data.buckets, plainly),
    # Identity last: users, then roles (nothing above needs them any more), then policies.
    Step("iam user", identity.iam_users, plainly),
    Step("iam role", identity.iam_roles, plainly),
    Step("iam policy", identity.iam_policies, plainly),
)


def clean_up(
    lesson: str | None = None,
    *,
    dry_run: bool = False,
    session: boto3.session.Session | None = None,
    region: str | None = None,
    use_tagging_api: bool = True,
    wait_seconds: float = 120.0,
    name_rule: bool = False,
    only: Collection[tuple[str, str]] | None = None,
) -> CleanupReport:
    """Delete (or, with ``dry_run``, list) every resource tagged ``labkit:lesson`` (= ``lesson`` if given).

    ``session`` defaults to a new boto3 session (the settings ``labkit.connect()`` made);
    ``use_tagging_api=False`` lists each service on its own instead of asking the Tagging API;
    ``name_rule=True`` (emulators only) lets the name rule stand in for a tag call the backend lacks;
    ``only``: the (kind, name) pairs a confirmed dry run listed: anything else found is left, and reported so.
    """
    session = session or boto3.session.Session(region_name=region)
    run = Run(session, lesson, dry_run, use_tagging_api, wait_seconds, name_rule, only)
    for step in ORDER:
        step.how(run, run.find(step.kind, step.finder))
    return run.report
