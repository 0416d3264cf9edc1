"""Lesson 06's receiver under hostile clients and forged SNS messages, over real sockets on 127.0.0.1.

- a client that sends one header byte at a time, each well inside the per-read socket timeout, is
  cut off at the header deadline (408), and a cap on connections answers the one too many with 503;
- a replay of a delivery is refused or dropped for as long as its signature stays valid: the lesson's
  ``receive`` is run on a fake clock, 7 minutes after the first delivery of a sender whose clock runs
  4 minutes ahead (no 7-minute sleep);
- SNS messages are verified before the notebook's ``receive_sns`` acts on one: an unsigned
  ``SubscriptionConfirmation`` from a topic it did not subscribe to is refused and its ``SubscribeURL``
  never fetched; a signature is checked the way AWS documents, with a certificate made here.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import notebook_code
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from labkit.lessons.l06_webhooks import WebhookServer, new_secret, signed_headers, verify_sns
from labkit.lessons.l06_webhooks.server import HOST
from labkit.lessons.l06_webhooks.sns import string_to_sign

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "06-webhooks.ipynb"


def lesson_definitions(*names: str, **namespace: object) -> dict:
    return notebook_code.lesson_definitions(NOTEBOOK.name, *names, **namespace)


def post(server: WebhookServer, path: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
    try:
        conn.request("POST", path, body=body.encode(), headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}").get("reason", "")
    finally:
        conn.close()


# ------------------------------------------------------------------ slow headers, too many connections


def test_headers_sent_one_byte_at_a_time_are_cut_off_at_the_header_deadline():
    with WebhookServer({"/x": lambda h, b: (202, "ok")}, read_timeout=1.0, header_timeout=1.0) as server:
        t0 = time.monotonic()
        with socket.create_connection((HOST, server.port), timeout=5) as s:
            s.sendall(b"POST /x HTTP/1.1\r\n")
            answer = b""
            for byte in b"X-Slow: " + b"a" * 40:  # a byte every 0.3 s: each read is well inside its 1 s timeout
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.3)
                if time.monotonic() - t0 > 4:
                    break
            s.settimeout(2)
            with contextlib.suppress(OSError):
                answer = s.recv(4096)
        took = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.0 408"), answer
    assert took < 3.0, f"the connection was held {took:.1f} s"
    assert [r.status for r in server.log] == [408]


def test_one_connection_too_many_is_answered_503_at_once_and_served_again_later():
    with WebhookServer({"/x": lambda h, b: (202, "ok")}, header_timeout=1.5, max_connections=2) as server:
        idle = [socket.create_connection((HOST, server.port), timeout=5) for _ in range(2)]  # send nothing
        try:
            time.sleep(0.2)
            t0 = time.monotonic()
            with socket.create_connection((HOST, server.port), timeout=5) as third:
                third.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
                answer = third.recv(4096)
            assert answer.startswith(b"HTTP/1.0 503") and time.monotonic() - t0 < 1.0
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and server.statuses().get(408, 0) < 2:
                time.sleep(0.05)  # the idle two are cut off at their header deadline, and free their places
            assert post(server, "/x", "{}", {}) == (202, "ok")
        finally:
            for s in idle:
                s.close()
    assert server.statuses() == {202: 1, 408: 2, 503: 1}


# ------------------------------------------------------------------ replays, on a fake clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now


def test_a_replay_7_minutes_later_is_not_queued_again_while_its_signature_is_valid():
    clock = FakeClock()
    sent: list[dict] = []
    sqs = SimpleNamespace(send_message=lambda **kw: sent.append(kw) or {"MessageId": str(len(sent))})
    secret = new_secret()
    scope = lesson_definitions(
        "TOLERANCE",
        "verify",
        "receive",
        time=clock,
        acme=SimpleNamespace(secret=secret),
        sqs=sqs,
        events_url="q",
        seen=set(),
    )
    body = json.dumps({"type": "email.opened", "data": {"mail_id": "m-1"}})
    ahead = dt.datetime.fromtimestamp(clock.now + 240, tz=dt.timezone.utc)  # the sender's clock: 4 minutes ahead
    headers = signed_headers(secret, "msg_replayed", body, at=ahead)
    assert scope["receive"](headers, body) == (202, "queued")
    clock.now += 7 * 60  # the captured request, replayed 7 minutes later: its timestamp is still within 5 minutes
    assert scope["verify"](secret, headers, body) == (True, "")
    assert scope["receive"](headers, body) == (200, "duplicate: already queued")
    clock.now += 3 * 60  # 10 minutes later the signature itself is stale
    assert scope["receive"](headers, body)[0] == 401
    assert len(sent) == 1


# ------------------------------------------------------------------ SNS: verified before anything is done


class SubscribeUrlServer:
    """Counts GETs, as the SubscribeURL's host would see the receiver confirm."""

    def __init__(self) -> None:
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{HOST}:{self.server.server_address[1]}/?Action=ConfirmSubscription&Token=t"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _confirmation(topic: str, subscribe_url: str, signature: str = "FAKE") -> dict:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "7f3b6c1e-0000-4000-8000-000000000001",
        "Token": "t",
        "TopicArn": topic,
        "Message": "You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL.",
        "SubscribeURL": subscribe_url,
        "Timestamp": "2026-12-02T06:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": signature,
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-fake.pem",
    }


@pytest.fixture
def sns_receiver():
    ours = "arn:aws:sns:us-east-1:000000000000:labkit-06-reports"
    target = SubscribeUrlServer()
    made = []

    def make(is_emulator: bool):
        sns_messages: list[dict] = []
        scope = lesson_definitions(
            "receive_sns",
            verify_sns=verify_sns,
            our_topics={ours},
            sns_messages=sns_messages,
            lab=SimpleNamespace(is_emulator=is_emulator),
        )
        server = WebhookServer({"/sns": scope["receive_sns"]}).start()
        made.append(server)
        return server, sns_messages

    yield ours, target, make
    for server in made:
        server.stop()
    target.close()


def test_an_unsigned_confirmation_from_an_unknown_topic_is_refused_and_its_url_never_fetched(sns_receiver):
    ours, target, make = sns_receiver
    server, sns_messages = make(is_emulator=True)
    other = "arn:aws:sns:us-east-1:000000000000:someone-elses"
    status, _ = post(server, "/sns", json.dumps(_confirmation(other, target.url)), {})
    assert status == 403 and sns_messages == [] and target.hits == 0
    # The same message naming our topic is taken on the emulator (it signs nothing: the allow-list decides) ...
    assert post(server, "/sns", json.dumps(_confirmation(ours, target.url)), {}) == (200, "SubscriptionConfirmation")
    # ... and refused where messages must be signed (real AWS), before anything is done with it.
    strict, strict_messages = make(is_emulator=False)
    status, reason = post(strict, "/sns", json.dumps(_confirmation(ours, target.url)), {})
    assert status == 403 and "unsigned" in reason and strict_messages == []
    assert target.hits == 0


def _signing_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(("version", "digest"), [("1", hashes.SHA1), ("2", hashes.SHA256)])
def test_a_signature_is_checked_as_aws_documents(version, digest):
    key, pem = _signing_certificate()
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:reports",
        "Subject": "weekly report",
        "Message": '{"mails": 3}',
        "Timestamp": "2026-12-02T06:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    }
    signed = string_to_sign(message)
    assert signed is not None and signed.startswith(b"Message\n")
    assert signed.index(b"Subject\n") < signed.index(b"Timestamp\n") < signed.index(b"TopicArn\n")
    message["Signature"] = base64.b64encode(key.sign(signed, padding.PKCS1v15(), digest())).decode()
    assert verify_sns(message, fetch_certificate=fetch) == (True, "")
    assert fetched == [message["SigningCertURL"]]
    assert verify_sns({**message, "Message": '{"mails": 4}'}, fetch_certificate=fetch) == (
        False,
        "signature does not match",
    )
    for url in ("http://sns.eu-west-1.amazonaws.com/x.pem", "https://sns.evil.example/x.pem"):
        ok, why = verify_sns({**message, "SigningCertURL": url}, fetch_certificate=fetch)
        assert not ok and "SigningCertURL" in why
    assert set(fetched) == {message["SigningCertURL"]}  # a certificate from anywhere but SNS is never fetched


def test_what_is_not_an_sns_message_is_refused():
    assert verify_sns({"Type": "Hello"}) == (False, "not an SNS message type: 'Hello'")
    assert verify_sns({"Type": "Notification"})[1].startswith("missing Message, MessageId")
