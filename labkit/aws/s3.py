"""Emptying a bucket: S3 deletes only empty buckets, and a versioned one keeps every version until told."""

from __future__ import annotations

import botocore.exceptions

BATCH = 1000  # the most keys one DeleteObjects request takes


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object version and delete marker in ``bucket``, then any plain object left; return how many.

    Deletes in batches of 1000 (``delete_objects``). A key S3 refuses to delete raises a ``ClientError``
    with S3's error code for it, as ``delete_object`` would have.
    """
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        removed += _delete(s3, bucket, [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries])
    # A backend whose version listing leaves some objects out (an unversioned bucket on an emulator).
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        removed += _delete(s3, bucket, [{"Key": o["Key"]} for o in page.get("Contents", [])])
    return removed


def _delete(s3, bucket: str, objects: list[dict]) -> int:
    for start in range(0, len(objects), BATCH):
        batch = objects[start : start + BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": first.get("Code", "DeleteObjectsFailed"), "Message": first.get("Message", "")}},
                "DeleteObjects",
            )
    return len(objects)
