"""The webhook receiver refuses what it must, with the right status, and processes nothing it refused.

A real ``WebhookReceiver`` on 127.0.0.1 (free port) whose hand-off appends to a list, so
"nothing processed" is checked exactly. Requests go over real sockets, as an attacker's would.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.lessons.l06_webhooks import WebhookReceiver, new_secret, signed_headers

SECRET = new_secret()
MAX_BODY = 4096
READ_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def server():
    handed: list[tuple[str, str]] = []
    receiver = WebhookReceiver(
        SECRET, lambda wid, body: handed.append((wid, body)), max_body=MAX_BODY, read_timeout=READ_TIMEOUT
    )
    receiver.start()
    yield receiver, handed
    receiver.stop()


@pytest.fixture
def receiver(server):
    receiver, handed = server
    handed.clear()
    return receiver


@pytest.fixture
def handed(server):
    return server[1]


def event(mail_id: str = "m-1", kind: str = "email.opened") -> str:
    return json.dumps({"type": kind, "data": {"mail_id": mail_id}})


def post(receiver: WebhookReceiver, body: bytes | str, headers: dict[str, str], path: str = "/webhooks/mail"):
    body = body.encode() if isinstance(body, str) else body
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}").get("reason", "")
    finally:
        conn.close()


def test_a_valid_delivery_is_accepted_and_handed_off_once(receiver, handed):
    body = event()
    status, reason = post(receiver, body, signed_headers(SECRET, "msg_ok", body))
    assert (status, reason) == (202, "accepted")
    assert handed == [("msg_ok", body)]


def test_bad_signature_is_401(receiver, handed):
    body = event()
    headers = signed_headers(SECRET, "msg_bad", body)
    headers["webhook-signature"] = "v1," + "A" * 43 + "="
    assert post(receiver, body, headers)[0] == 401
    assert handed == []


def test_wrong_secret_is_401(receiver, handed):
    body = event()
    assert post(receiver, body, signed_headers(new_secret(), "msg_wrong", body))[0] == 401
    assert handed == []


def test_tampered_body_is_401(receiver, handed):
    headers = signed_headers(SECRET, "msg_tamper", event("m-1"))
    assert post(receiver, event("m-2"), headers)[0] == 401
    assert handed == []


def test_signature_of_another_id_is_401(receiver, handed):
    body = event()
    headers = signed_headers(SECRET, "msg_a", body)
    headers["webhook-id"] = "msg_b"
    assert post(receiver, body, headers)[0] == 401
    assert handed == []


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_400(receiver, handed, missing):
    body = event()
    headers = signed_headers(SECRET, "msg_missing", body)
    del headers[missing]
    status, reason = post(receiver, body, headers)
    assert status == 400 and missing in reason
    assert handed == []


@pytest.mark.parametrize("minutes, word", [(-10, "old"), (10, "future")])
def test_stale_and_future_timestamps_are_401(receiver, handed, minutes, word):
    body = event()
    at = datetime.now(tz=timezone.utc) + timedelta(minutes=minutes)
    status, reason = post(receiver, body, signed_headers(SECRET, f"msg_time{minutes}", body, at=at))
    assert status == 401 and word in reason
    assert handed == []


def test_timestamp_within_tolerance_is_accepted(receiver, handed):
    body = event()
    at = datetime.now(tz=timezone.utc) - timedelta(minutes=4)
    assert post(receiver, body, signed_headers(SECRET, "msg_4min", body, at=at))[0] == 202
    assert len(handed) == 1


def test_non_numeric_timestamp_is_400(receiver, handed):
    body = event()
    headers = signed_headers(SECRET, "msg_ts", body)
    headers["webhook-timestamp"] = "9" * 40
    assert post(receiver, body, headers)[0] == 400
    assert handed == []


def test_replay_is_answered_200_and_not_processed_again(receiver, handed):
    body = event()
    headers = signed_headers(SECRET, "msg_replay", body)
    assert post(receiver, body, headers)[0] == 202
    status, reason = post(receiver, body, headers)
    assert status == 200 and "duplicate" in reason
    # a retry re-signed later with the same id is the same event too
    later = signed_headers(SECRET, "msg_replay", body, at=datetime.now(tz=timezone.utc) + timedelta(seconds=30))
    assert post(receiver, body, later)[0] == 200
    assert handed == [("msg_replay", body)]


def test_oversized_body_is_413_before_it_is_read(receiver, handed):
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(
            b"POST /webhooks/mail HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {MAX_BODY + 1}\r\n".encode()
            + b"webhook-id: msg_big\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,x\r\n\r\n"
        )
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.0 413")
    assert handed == []


def test_a_whole_oversized_delivery_is_413(receiver, handed):
    body = json.dumps({"type": "email.clicked", "data": {"mail_id": "m-1", "pad": "x" * MAX_BODY}})
    assert post(receiver, body, signed_headers(SECRET, "msg_big2", body))[0] == 413
    assert handed == []


def test_chunked_body_without_length_is_411(receiver, handed):
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(b"POST /webhooks/mail HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.0 411")
    assert handed == []


def test_malformed_json_with_a_valid_signature_is_400(receiver, handed):
    body = '{"type": "email.opened", "data": '
    status, reason = post(receiver, body, signed_headers(SECRET, "msg_json", body))
    assert status == 400 and "JSON" in reason
    assert handed == []


def test_json_without_an_event_type_is_400(receiver, handed):
    body = "[1, 2, 3]"
    assert post(receiver, body, signed_headers(SECRET, "msg_list", body))[0] == 400
    assert handed == []


def test_slow_client_gets_408_within_the_bound(receiver, handed):
    body = event().encode()
    headers = signed_headers(SECRET, "msg_slow", body.decode())
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(f"POST /webhooks/mail HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode())
        t0 = time.monotonic()
        s.sendall(body[:5])  # then trickle: one byte every 0.2 s, never finishing in time
        answer = b""
        for b in body[5:]:
            time.sleep(0.2)
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            if time.monotonic() - t0 > READ_TIMEOUT + 0.5:
                break
        s.settimeout(3)
        answer = s.recv(4096)
        took = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.0 408")
    assert took < READ_TIMEOUT + 1.0
    assert handed == []


def test_a_client_that_never_sends_its_body_is_cut_off(receiver, handed):
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(b"POST /webhooks/mail HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        t0 = time.monotonic()
        answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.0 408")
        assert time.monotonic() - t0 < READ_TIMEOUT + 1.0
    assert handed == []


def test_other_methods_and_paths_are_refused(receiver, handed):
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    conn.request("GET", "/webhooks/mail")
    assert conn.getresponse().status == 405
    conn.close()
    body = event()
    assert post(receiver, body, signed_headers(SECRET, "msg_path", body), path="/admin")[0] == 404
    assert handed == []


def test_sns_path_refuses_unknown_topics_and_non_sns_bodies(receiver, handed):
    message = {"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:other"}
    body = json.dumps(message)
    assert post(receiver, body, {"x-amz-sns-message-type": "Notification"}, path="/sns")[0] == 403
    assert post(receiver, body, {}, path="/sns")[0] == 400
    assert post(receiver, "not json", {"x-amz-sns-message-type": "Notification"}, path="/sns")[0] == 400
    assert receiver.sns_inbox == [] and receiver.confirmations == []
    assert handed == []


def test_a_failed_hand_off_answers_503_and_the_retry_gets_through():
    calls: list[str] = []

    def flaky(webhook_id: str, body: str) -> None:
        calls.append(webhook_id)
        if len(calls) == 1:
            raise ConnectionError("queue unavailable")

    with WebhookReceiver(SECRET, flaky) as receiver:
        body = event()
        assert post(receiver, body, signed_headers(SECRET, "msg_flaky", body))[0] == 503
        assert post(receiver, body, signed_headers(SECRET, "msg_flaky", body))[0] == 202
    assert calls == ["msg_flaky", "msg_flaky"]


def test_stop_refuses_connections_and_start_reuses_the_port():
    receiver = WebhookReceiver(SECRET, lambda *a: None).start()
    port = receiver.port
    receiver.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    receiver.start()
    try:
        assert receiver.port == port
        body = event()
        assert post(receiver, body, signed_headers(SECRET, "msg_back", body))[0] == 202
    finally:
        receiver.stop()


# ------------------------------------------------------------------ property-based

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
random_headers = st.fixed_dictionaries(
    {},
    optional={
        "webhook-id": header_text,
        "webhook-timestamp": st.one_of(header_text, st.integers(0, 2**40).map(str)),
        "webhook-signature": st.one_of(header_text, header_text.map(lambda s: "v1," + s)),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=random_headers, body=st.binary(max_size=600))
def test_random_headers_and_bodies_over_http_are_refused_and_never_processed(receiver, handed, headers, body):
    status, _ = post(receiver, body, headers)
    assert status in (400, 401)
    assert handed == []


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"]), st.text()),
    body=st.binary(max_size=2000),
)
def test_verify_never_crashes_and_never_accepts_unsigned_input(headers, body):
    receiver = WebhookReceiver(SECRET, lambda *a: None)
    status, _, payload = receiver.verify(headers, body)
    assert status in (400, 401) and payload is None


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(st.binary(max_size=500), st.text(max_size=300).map(str.encode)), webhook_id=header_text)
def test_a_genuine_signature_is_accepted_exactly_when_the_body_is_an_event(body, webhook_id):
    receiver = WebhookReceiver(SECRET, lambda *a: None)
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return  # the sender signs text; undecodable bytes cannot carry a genuine signature
    headers = signed_headers(SECRET, webhook_id or "msg_x", text)
    status, _, payload = receiver.verify(headers, body)
    try:
        parsed = json.loads(text)
        is_event = isinstance(parsed, dict) and isinstance(parsed.get("type"), str)
    except ValueError:
        is_event = False
    assert (status == 202) == is_event
    assert (payload is not None) == is_event
