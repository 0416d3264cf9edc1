"""Checks for 02-s3-and-glacier."""

from __future__ import annotations

import boto3

from labkit.aws.errors import error_code
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates, suffix_of


@exercise(1, "bring back the notes", looks_for="bucket labkit-02-<suffix>")
def restored_version(bucket: str, key: str, wanted: bytes) -> Result:
    """The current version of ``key`` holds ``wanted`` again, and the versions it replaced are still there."""
    s3 = boto3.client("s3")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        return hint(f"versioning is not enabled on {bucket}: without it an overwrite loses the old version")
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []) if v["Key"] == key]
    try:
        current = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return hint(f"{key} has no current version (is a delete marker on top?)")
    if current != wanted:
        return hint(
            f"the current {key} holds {current[:40]!r}, not the original {wanted[:40]!r}: copy the old version "
            "over it with copy_object(CopySource={'Bucket': ..., 'Key': ..., 'VersionId': ...})"
        )
    if len(versions) < 3:
        return hint(f"{key} has {len(versions)} versions; restoring should add a new one on top, keeping the others")
    return passed(f"{key} holds the original again; all {len(versions)} versions are kept")


@exercise(2, "an archive rule", looks_for="bucket labkit-02-<suffix>")
def archive_rule(bucket: str, prefix: str = "archive/") -> Result:
    """An enabled lifecycle rule moves ``prefix`` objects to GLACIER at 90 days and DEEP_ARCHIVE at 180."""
    s3 = boto3.client("s3")
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except s3.exceptions.ClientError as err:
        if error_code(err) == "NoSuchLifecycleConfiguration":
            return hint(f"{bucket} has no lifecycle configuration yet: put_bucket_lifecycle_configuration")
        raise
    mine = [r for r in rules if (r.get("Filter", {}).get("Prefix", r.get("Prefix")) == prefix)]
    if not mine:
        prefixes = [r.get("Filter", {}).get("Prefix", r.get("Prefix")) for r in rules]
        return hint(f"no rule filters on Prefix {prefix!r} (rules filter on {prefixes})")
    rule = mine[0]
    if rule.get("Status") != "Enabled":
        return hint(f"rule {rule.get('ID')} is {rule.get('Status')}: set Status='Enabled'")
    steps = sorted((t.get("Days"), t.get("StorageClass")) for t in rule.get("Transitions", []))
    if steps != [(90, "GLACIER"), (180, "DEEP_ARCHIVE")]:
        return hint(f"the transitions are {steps}; expected [(90, 'GLACIER'), (180, 'DEEP_ARCHIVE')] as (Days, class)")
    return passed(f"{prefix}* → Glacier Flexible Retrieval at 90 days → Deep Archive at 180 days")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("02")


NOTES_ORIGINAL = b"meeting notes: ship on Friday"  # lesson 02's first version of notes.txt


def _lesson_02_buckets(scan: Scan) -> list[str]:
    return [b for b in scan.buckets() if suffix_of("labkit-02-{s}", b)]


@restored_version.finder
def _notes_bucket(scan: Scan) -> list[Candidate]:
    return [Candidate(b, (b, "notes.txt", NOTES_ORIGINAL)) for b in _lesson_02_buckets(scan)]


@archive_rule.finder
def _archive_bucket(scan: Scan) -> list[Candidate]:
    return candidates(_lesson_02_buckets(scan), prefix="archive/")
