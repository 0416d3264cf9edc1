"""Is this SNS message from SNS? Verified before the receiver acts on it (and before any SubscribeURL is fetched).

AWS's steps (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html): the
certificate must come from SNS itself (``SigningCertURL`` an ``https://sns.<region>.amazonaws.com/``
URL), the string to sign is built from the message's fields in a fixed order ("Key\\nValue\\n" each:
Notification: Message, MessageId, Subject if present, Timestamp, TopicArn, Type; confirmations:
Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type), and ``Signature`` (base64) is
checked against the certificate's public key, RSA PKCS#1 v1.5 with SHA1 (``SignatureVersion`` 1) or
SHA256 (2).

The emulators do not sign as SNS does (MiniStack sends ``"Signature": "FAKE"``; LocalStack signs with a
certificate of its own, not at an SNS URL), so there a message is taken only from an explicit
allow-list of the backend's topic ARNs (``unsigned_from``, the topics this receiver subscribed to on
an emulator); an unsigned message from any other topic is refused. On AWS pass no allow-list: every
message must carry a valid signature.

Our own code, not a library's: the PyPI validators (``aws-sns-message-validator``, last released
2022) are unmaintained; this is the documented algorithm over ``cryptography``'s maintained RSA.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["SIGNED_FIELDS", "string_to_sign", "verify_sns"]

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def string_to_sign(message: Mapping[str, object]) -> bytes | None:
    """The bytes SNS signed for this message (None for a Type SNS does not send)."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None or any(name not in message for name in fields if name != "Subject"):
        return None
    parts = [f"{name}\n{message[name]}\n" for name in fields if not (name == "Subject" and name not in message)]
    return "".join(parts).encode()


def _certificate_url_ok(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme == "https" and bool(_SNS_HOST.match(parsed.hostname or "")) and parsed.path.endswith(".pem")


@lru_cache(maxsize=16)
def _fetch_certificate(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:  # https, an SNS host: checked before
        return bytes(answer.read())


def verify_sns(
    message: Mapping[str, object],
    *,
    unsigned_from: Collection[str] = (),
    fetch_certificate: Callable[[str], bytes] = _fetch_certificate,
) -> tuple[bool, str]:
    """(True, "") for a message SNS signed, or an unsigned one from a topic in ``unsigned_from``; else (False, why)."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        return False, f"not an SNS message type: {message.get('Type')!r}"
    missing = [name for name in fields if name != "Subject" and name not in message]
    if missing:
        return False, f"missing {', '.join(missing)}"
    signed = string_to_sign(message)
    assert signed is not None  # its Type has signed fields, all present
    version = str(message.get("SignatureVersion", ""))
    signature = str(message.get("Signature", ""))
    cert_url = str(message.get("SigningCertURL", ""))
    unsigned = version not in _HASHES or not signature or signature == "FAKE" or not cert_url
    if unsigned or not _certificate_url_ok(cert_url):  # no signature SNS made (an emulator's own, at best)
        if message.get("TopicArn") in unsigned_from:
            return True, ""
        if unsigned:
            return False, "unsigned, and not from a topic this receiver trusts unsigned"
        return False, "SigningCertURL is not an https URL of SNS (sns.<region>.amazonaws.com)"
    try:
        certificate = x509.load_pem_x509_certificate(fetch_certificate(cert_url))
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return False, "the signing certificate's key is not RSA"
        key.verify(base64.b64decode(signature), signed, padding.PKCS1v15(), _HASHES[version]())
    except InvalidSignature:
        return False, "signature does not match"
    except (OSError, ValueError) as err:
        return False, f"cannot check the signature: {type(err).__name__}"
    return True, ""
