"""Data and messaging: S3 buckets (emptied first), SQS queues, SNS topics, DynamoDB tables,
RDS instances and snapshots, Glacier vaults."""

from __future__ import annotations

import botocore.exceptions

from labkit.aws.s3 import empty_bucket
from labkit.ops.run import Found, Run, paginate, tagged_by_api_or_listing, tags_of


def buckets(run: Run) -> list[Found]:
    s3 = run.client("s3")

    def listing():
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet", [])
            except botocore.exceptions.ClientError:
                tags = []  # NoSuchTagSet, or a bucket in another region
            yield bucket["Name"], tags_of(tags)

    def delete(bucket: str) -> str:
        versions = empty_bucket(s3, bucket)
        s3.delete_bucket(Bucket=bucket)
        return f"emptied {versions} object version(s) first" if versions else ""

    return [
        Found("s3 bucket", name, lesson, lambda n=name: delete(n))
        for name, lesson in tagged_by_api_or_listing(run, "s3 bucket", listing)
    ]


def queues(run: Run) -> list[Found]:
    sqs = run.client("sqs")

    def listing():
        for url in paginate(sqs, "list_queues", "QueueUrls"):
            yield url.rsplit("/", 1)[-1], sqs.list_queue_tags(QueueUrl=url).get("Tags", {})

    def delete(name: str) -> None:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])

    return [
        Found("sqs queue", name, lesson, lambda n=name: delete(n))
        for name, lesson in tagged_by_api_or_listing(run, "sqs queue", listing)
    ]


def topics(run: Run) -> list[Found]:
    sns = run.client("sns")
    arns = {t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in paginate(sns, "list_topics", "Topics")}

    def listing():
        for name, arn in arns.items():
            yield name, tags_of(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))

    return [
        Found(
            "sns topic",
            name,
            lesson,
            lambda a=arns[name]: sns.delete_topic(TopicArn=a) and "with its subscriptions",
        )
        for name, lesson in tagged_by_api_or_listing(run, "sns topic", listing)
        if name in arns
    ]


def tables(run: Run) -> list[Found]:
    ddb = run.client("dynamodb")

    def listing():
        for name in paginate(ddb, "list_tables", "TableNames"):
            arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
            yield name, tags_of(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags"))

    return [
        Found("dynamodb table", name, lesson, lambda n=name: ddb.delete_table(TableName=n) and None)
        for name, lesson in tagged_by_api_or_listing(run, "dynamodb table", listing)
    ]


def rds_instances(run: Run) -> list[Found]:
    rds = run.client("rds")

    def listing():
        for db in paginate(rds, "describe_db_instances", "DBInstances"):
            yield db["DBInstanceIdentifier"], tags_of(db.get("TagList"))

    def delete(name: str) -> str:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        return "deleting (AWS takes minutes; no final snapshot)"

    return [
        Found("rds instance", name, lesson, lambda n=name: delete(n))
        for name, lesson in tagged_by_api_or_listing(run, "rds instance", listing)
    ]


def rds_snapshots(run: Run) -> list[Found]:
    rds = run.client("rds")

    def listing():
        for snap in paginate(rds, "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"):
            yield snap["DBSnapshotIdentifier"], tags_of(snap.get("TagList"))

    return [
        Found("rds snapshot", name, lesson, lambda n=name: rds.delete_db_snapshot(DBSnapshotIdentifier=n) and None)
        for name, lesson in tagged_by_api_or_listing(run, "rds snapshot", listing)
    ]


def vaults(run: Run) -> list[Found]:
    glacier = run.client("glacier")
    out = []
    for vault in paginate(glacier, "list_vaults", "VaultList"):
        name = vault["VaultName"]
        lesson, how = run.tags_or_name(
            "glacier vault", name, lambda n=name: glacier.list_tags_for_vault(vaultName=n).get("Tags", {})
        )
        if lesson is not None:
            out.append(
                Found(
                    "glacier vault", name, lesson, lambda n=name: glacier.delete_vault(vaultName=n) and None, detail=how
                )
            )
    return out
