"""The real-AWS backend and its guard.

Nothing reaches a real account unless the learner opted in with
``LABKIT_ALLOW_REAL_AWS=1`` or ``labkit.connect(backend="aws", allow_real_aws=True)``.
Then labkit asks STS who the caller is, before anything is created, so the
banner can show the (masked) account and region; everything a lesson creates
carries the ``labkit:lesson`` tag that ``labkit cleanup`` looks for.
"""

from __future__ import annotations

import os

import boto3
import botocore.exceptions

from labkit import config
from labkit.aws.errors import error_code
from labkit.backends.base import Backend, Check, Connection, Identity, Route, StatusReport
from labkit.errors import NoCredentials, RealAWSNotAllowed

TAG_KEY = "labkit:lesson"


def guard(allow_real_aws: bool = False) -> None:
    if not config.real_aws_allowed(allow_real_aws):
        raise RealAWSNotAllowed(
            "real AWS is not allowed: lessons create resources that cost money; "
            "opt in with `export LABKIT_ALLOW_REAL_AWS=1` (or connect(backend='aws', allow_real_aws=True))"
        )


def mask_account(account: str) -> str:
    """Show only the last four digits of an account id."""
    return "•" * max(len(account) - 4, 0) + account[-4:]


def identify(region: str) -> dict[str, str]:
    """Who the default credential chain is, without printing the account id in full."""
    try:
        # A fresh session: the default one may hold credentials cached from an emulator session.
        ident = boto3.session.Session().client("sts", region_name=region).get_caller_identity()
    except botocore.exceptions.NoCredentialsError:
        raise NoCredentials(
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
        ) from None
    except botocore.exceptions.ClientError as err:
        code = error_code(err)
        raise NoCredentials(f"AWS rejected the credentials ({code}): refresh them, e.g. `aws sso login`") from None
    arn = ident["Arn"]
    return {"account": mask_account(ident["Account"]), "principal": arn.split(":", 5)[-1]}


def sdk_region() -> str | None:
    region: str | None = boto3.session.Session().region_name
    return region


class Aws(Backend):
    """A real AWS account, reached with the default credential chain once the learner opted in."""

    name = "aws"
    emulator = False

    def connect(self, *, allow_real_aws: bool = False, lesson: str | None = None) -> Connection:
        guard(allow_real_aws)
        region = os.environ.get("LABKIT_REGION") or sdk_region() or config.region()
        return Connection(
            {},
            [Route("Amazon Web Services", f"{region} (real)", ("every service",))],
            [
                "REAL AWS: what the lessons create costs money. Everything is tagged "
                f"{TAG_KEY}={lesson or 'unnamed'}; run each lesson's clean-up cell when done."
            ],
            region=region,
        )

    def identify(self, region: str) -> Identity:
        who = identify(region)
        return Identity(who["account"], who["principal"])

    def up(self, *, allow_real_aws: bool = False) -> list[str]:
        guard(allow_real_aws)
        return ["real AWS needs nothing started; connect() checks credentials before anything is created"]

    def env_values(self) -> dict[str, str]:
        guard(False)
        return {"LABKIT_BACKEND": "aws", "LABKIT_ALLOW_REAL_AWS": "1"}

    def status(self, *, allow_real_aws: bool = False) -> StatusReport:
        guard(allow_real_aws)
        return StatusReport(
            [f"  real AWS, region {sdk_region() or config.region()}; `labkit.connect()` shows the account"]
        )

    def doctor(self) -> list[Check]:
        allowed = config.real_aws_allowed()
        return [
            (None, "real AWS allowed (LABKIT_ALLOW_REAL_AWS=1)" if allowed else "real AWS not allowed (the default)")
        ]
