"""The room checks every signed request's secret, as AWS does. Loaded by path by ``server.py`` (servers' Python).

Neither MiniStack (unless ``AUTH=true``) nor moto checks a secret: the access key id alone would be
the whole identity, and a learner who knew another's 12-digit key id could act as them. So both of
the room's servers first recompute each request's SigV4 signature with the secret the roster gives
that key id, and refuse a request that does not match with AWS's error (HTTP 403):

- a key id that is not on the roster (nor, on MiniStack, one of its STS session keys):
  ``InvalidClientTokenId`` (S3: ``InvalidAccessKeyId``);
- a wrong secret: ``SignatureDoesNotMatch``; a request signed too long ago or a presigned URL
  past its ``X-Amz-Expires``: ``SignatureDoesNotMatch`` / ``AccessDenied`` as AWS words it;
- any other signing scheme (SigV2, SigV4a): refused, as the room cannot check it.

A request that carries no signature at all goes on as anonymous: the servers give it their default
account (000000000000 / 123456789012), which is never a learner's (``roster._RESERVED``), as AWS
serves public resources (a CloudFront distribution, an S3 presigned URL is signed) to anyone.

Why MiniStack's own ``AUTH=true`` mode is not used: it checks signatures only against IAM access
keys that MiniStack itself issued (``AKIA...`` ids, not 12 digits, so no longer the account), it
also turns on IAM policy enforcement for every call of every lesson, and it does nothing for the
room's moto. The canonical request, string to sign and HMACs are MiniStack's own SigV4 code
(``ministack.core.sigv4``, the code its AUTH mode uses, shipped in the servers' environment for both
servers): nothing cryptographic is written here. The body is not compared with a signed
``x-amz-content-sha256`` (that guards against tampering on the wire, not against a wrong secret).

Also here, what MiniStack lets through across accounts that AWS does not (without a resource
policy, which no lesson writes): ``foreign_refusal`` refuses an SQS call on another account's queue
URL and an SNS call on another account's topic ARN (``AccessDenied``), and ``unsigned_refusal`` an
unsigned API call (``MissingAuthenticationToken``), except SNS's ``ConfirmSubscription`` link, which
AWS also serves unsigned. And ``assume_role_refusal``. MiniStack's ``sts:AssumeRole`` hands out a session for any role
ARN, in any account, with no role and no trust policy needed; in a room that would give one learner
a session in another's account. The room refuses an ``AssumeRole`` whose role is in an account
other than the caller's (``AccessDenied``, as AWS answers when the role's trust policy does not name
the caller): no lesson needs cross-account trust, and the room has no way to check one.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from ministack.core import sigv4

ALGORITHM = "AWS4-HMAC-SHA256"
UNKNOWN_KEY = "The security token included in the request is invalid."
UNKNOWN_S3_KEY = "The AWS Access Key Id you provided does not exist in our records."
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/")


class Keys:
    """The roster's key id → secret, read again whenever the roster file changes (learners added)."""

    def __init__(self, roster: str, extra: Callable[[str], str | None] | None = None) -> None:
        self.path, self.extra = roster, extra
        self._stamp: tuple[int, int] | None = None
        self._secrets: dict[str, str] = {}

    def secret(self, key_id: str) -> str | None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            secrets: dict[str, str] = {}
            if stamp is not None:
                with open(self.path, newline="") as f:
                    secrets = {row["access_key_id"]: row["secret_access_key"] for row in csv.DictReader(f)}
            self._secrets, self._stamp = secrets, stamp
        found = self._secrets.get(key_id)
        return found if found is not None or self.extra is None else self.extra(key_id)

    def on_roster(self, key_id: str) -> bool:
        self.secret(key_id)
        return key_id in self._secrets


QUERY_AUTH = {"x-amz-credential", "x-amz-signature", "x-amz-algorithm", "x-amz-signedheaders", "awsaccesskeyid"}


def is_signed(headers: Mapping[str, str], query: str) -> bool:
    """Whether a request claims any identity (a header, or query parameters in any letter case).

    MiniStack reads ``x-amz-credential`` as well as ``X-Amz-Credential``: a request that names a
    credential in any case is checked, never passed on as anonymous."""
    if "authorization" in {k.lower() for k in headers}:
        return True
    return any(name.lower() in QUERY_AUTH for name in parse_qs(query, keep_blank_values=True))


def refusal(
    method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes, keys: Keys
) -> tuple[str, str, str] | None:
    """None if the request is unsigned or signed with the right secret; else (code, message, key id)."""
    params = parse_qs(query, keep_blank_values=True)
    names = {name.lower() for name in params}
    presigned = bool(names & {"x-amz-credential", "x-amz-signature"})
    authorization = headers.get("authorization", "")
    if not authorization and not presigned:
        if "awsaccesskeyid" in names or "signature" in names:
            return "AccessDenied", "the room accepts only Signature Version 4 (AWS4-HMAC-SHA256)", ""
        return None
    if authorization and not authorization.startswith(ALGORITHM + " "):
        return "IncompleteSignature", "the room accepts only Signature Version 4 (AWS4-HMAC-SHA256)", ""
    algorithm = [v for k, v in params.items() if k.lower() == "x-amz-algorithm"]
    if presigned and not authorization and (algorithm[0][0] if algorithm else "") != ALGORITHM:
        return "AuthorizationQueryParametersError", "the room accepts only X-Amz-Algorithm=AWS4-HMAC-SHA256", ""
    signature = sigv4.parse_header_signature(headers) if authorization else sigv4.parse_query_signature(params)
    if isinstance(signature, tuple):
        return (*signature, "")
    key_id = signature.access_key_id
    secret = keys.secret(key_id)
    if secret is None:
        unknown = (
            ("InvalidAccessKeyId", UNKNOWN_S3_KEY)
            if signature.service == "s3"
            else ("InvalidClientTokenId", UNKNOWN_KEY)
        )
        return (*unknown, key_id)
    if authorization:
        skewed = sigv4.request_time_failure(signature)
        if skewed:
            return (*skewed, key_id)
    else:
        expires = params.get("X-Amz-Expires", [""])[0]
        try:
            expired = sigv4.presigned_request_is_expired(signature.amz_date, expires) if expires else False
        except ValueError:
            expired = True
        if expired:
            return "AccessDenied", "Request has expired", key_id
    lowered = {k.lower(): v for k, v in headers.items()}
    failure = sigv4.header_signature_failure(
        signature, secret, method, raw_path, params, lowered, body, presigned=not authorization
    )
    return None if failure is None else (*failure, key_id)


def assume_role_refusal(body: bytes, query: str, caller: str) -> str | None:
    """For an STS AssumeRole call: why it is refused (its role is in another account), or None."""
    params = {**parse_qs(query), **parse_qs(body.decode("utf-8", "replace"))}
    if params.get("Action", [""])[0] != "AssumeRole":
        return None
    role = params.get("RoleArn", [""])[0]
    match = ROLE_ARN.match(role)
    if match is None or match.group(1) == caller:
        return None
    return (
        f"User: arn:aws:iam::{caller}:root is not authorized to perform: sts:AssumeRole on resource: {role} "
        "(the room allows no cross-account trust)"
    )


QUEUE_URL = re.compile(r"^https?://[^/]+/(\d{12})/")
QUEUE_PATH = re.compile(r"^/(\d{12})/")
FOREIGN_ARN = re.compile(r"^arn:aws[\w-]*:(sns|sqs):[^:]*:(\d{12}):")


def _params(body: bytes, query: str, headers: Mapping[str, str]) -> dict[str, list[str]]:
    """A call's parameters: the query string, and the body as a form or as JSON."""
    params = parse_qs(query, keep_blank_values=True)
    kind = headers.get("content-type", "")
    if "json" in kind:
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        if isinstance(doc, dict):
            params.update({k: [v] for k, v in doc.items() if isinstance(v, str)})
    elif "x-www-form-urlencoded" in kind:
        params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def foreign_refusal(
    service: str, path: str, query: str, headers: Mapping[str, str], body: bytes, caller: str
) -> str | None:
    """Why an SQS/SNS call on another account's queue or topic is refused, or None."""
    if service not in ("sqs", "sns"):
        return None
    params = _params(body, query, headers)
    owners = []
    if service == "sqs":
        owners += [m.group(1) for url in params.get("QueueUrl", []) if (m := QUEUE_URL.match(url))]
        owners += [m.group(1) for m in [QUEUE_PATH.match(path)] if m]
    for name in ("TopicArn", "TargetArn", "SubscriptionArn", "ResourceArn"):
        owners += [m.group(2) for arn in params.get(name, []) if (m := FOREIGN_ARN.match(arn))]
    foreign = sorted({o for o in owners if o != caller})
    if not foreign:
        return None
    return f"Access to a resource of account {foreign[0]} is denied (the room grants no cross-account access)"


def unsigned_refusal(query: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str] | None:
    """An API call (X-Amz-Target, or an Action) without a signature: refused as AWS does, but one."""
    if headers.get("x-amz-target"):
        return "MissingAuthenticationToken", "Request is missing Authentication Token"
    action = _params(body, query, headers).get("Action", [""])[0]
    if action and action != "ConfirmSubscription":
        return "MissingAuthenticationToken", "Request is missing Authentication Token"
    return None


def _cbor_text(value: str) -> bytes:
    raw = value.encode()
    n = len(raw)
    head = bytes([0x60 + n]) if n < 24 else bytes([0x78, n]) if n < 256 else bytes([0x79]) + n.to_bytes(2, "big")
    return head + raw


def error(
    code: str, message: str, headers: Mapping[str, str], service: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """AWS's 403 answer, in the protocol the caller speaks: JSON, CBOR (rpc-v2), S3's XML or the query XML."""
    kind = headers.get("content-type", "")
    extra = [("x-amzn-ErrorType", f"{code}:"), ("x-amzn-query-error", f"{code};Sender")]
    if "cbor" in kind or headers.get("smithy-protocol") == "rpc-v2-cbor":
        body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
        return 403, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), *extra], body
    if "json" in kind or service in ("lambda", "apigateway", "execute-api"):
        doc = json.dumps({"__type": code, "message": message}).encode()
        return 403, [("Content-Type", kind if "json" in kind else "application/json"), *extra], doc
    text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if service == "s3":
        xml = f"<Error><Code>{code}</Code><Message>{text}</Message></Error>"
    else:
        inner = f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error>"
        xml = f"<ErrorResponse>{inner}</ErrorResponse>"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return (
        403,
        [("Content-Type", "text/xml"), ("Date", stamp), *extra],
        ('<?xml version="1.0" encoding="UTF-8"?>' + xml).encode(),
    )


def service_of(headers: Mapping[str, str], query: str) -> str:
    """The service a request is signed for ("" if unsigned): names the error's format."""
    found = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/", headers.get("authorization", ""))
    if found:
        return found.group(1)
    credential = parse_qs(query).get("X-Amz-Credential", [""])[0].split("/")
    return credential[3] if len(credential) == 5 else ""
