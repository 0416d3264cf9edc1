"""The lesson's own receiver, as the learner reads it, refuses what it must; the server around it holds its limits.

``verify``, ``receive`` and the worker loop ``work`` are read from the notebook's cells (``ast``)
and run here, so these tests pin the code the lesson teaches, not a copy of it. ``receive`` runs
behind a real ``WebhookServer`` on 127.0.0.1 with a fake SQS client that records every send, so
"nothing queued" is checked exactly; requests go over real sockets, as an attacker's would.
"""

from __future__ import annotations

import hmac
import http.client
import json
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import notebook_code
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from standardwebhooks import Webhook

from labkit.lessons.l06_webhooks import Background, WebhookServer, new_secret, signed_headers
from labkit.lessons.l06_webhooks.server import HOST, answer_of

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "06-webhooks.ipynb"
SECRET = new_secret()
MAX_BODY = 4096
READ_TIMEOUT = 0.5
MAIL = "/webhooks/mail"


def lesson_definitions(*names: str, **namespace: object) -> dict:
    return notebook_code.lesson_definitions(NOTEBOOK.name, *names, **namespace)


LESSON = lesson_definitions("TOLERANCE", "verify")
verify = LESSON["verify"]


class FakeSQS:
    """Records send_message calls; ``fail`` makes the next ones raise, as an unreachable queue would."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.fail = 0
        self.lock = threading.Lock()

    def send_message(self, **kwargs: object) -> dict:
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise ConnectionError("queue unavailable")
            self.sent.append(kwargs)
        return {"MessageId": str(len(self.sent))}


@pytest.fixture(scope="module")
def served():
    sqs = FakeSQS()
    scope = lesson_definitions(
        "TOLERANCE", "verify", "receive", acme=SimpleNamespace(secret=SECRET), sqs=sqs, events_url="q", seen=set()
    )
    server = WebhookServer({MAIL: scope["receive"]}, max_body=MAX_BODY, read_timeout=READ_TIMEOUT).start()
    yield server, sqs, scope
    server.stop()


@pytest.fixture
def server(served):
    server, sqs, scope = served
    sqs.sent.clear()
    sqs.fail = 0
    scope["seen"].clear()
    return server


@pytest.fixture
def sent(served):
    return served[1].sent


def event(mail_id: str = "m-1", kind: str = "email.opened") -> str:
    return json.dumps({"type": kind, "data": {"mail_id": mail_id}})


def post(server: WebhookServer, body: bytes | str, headers: dict[str, str], path: str = MAIL):
    body = body.encode() if isinstance(body, str) else body
    conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}").get("reason", "")
    finally:
        conn.close()


def raw(server: WebhookServer, request: bytes) -> bytes:
    with socket.create_connection((HOST, server.port), timeout=5) as s:
        s.sendall(request)
        return s.recv(4096)


# ------------------------------------------------------------------ the lesson's verify


def test_verify_accepts_a_genuine_delivery_and_agrees_with_the_package():
    body = event()
    headers = signed_headers(SECRET, "msg_ok", body)
    assert verify(SECRET, headers, body) == (True, "")
    Webhook(SECRET).verify(body, headers)  # the maintained package agrees


def test_verify_takes_any_of_several_signatures():
    body = event()
    genuine = signed_headers(SECRET, "msg_two", body)
    other = signed_headers(new_secret(), "msg_two", body)["webhook-signature"]
    rotated = {**genuine, "webhook-signature": f"{other} v1a,abc {genuine['webhook-signature']}"}
    assert verify(SECRET, rotated, body)[0]
    assert not verify(SECRET, {**genuine, "webhook-signature": other}, body)[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: (h, b.replace("m-1", "m-2")),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b),
    ],
    ids=["another id", "body changed", "timestamp changed", "another version"],
)
def test_verify_refuses_any_change_to_what_was_signed(change):
    body = event()
    headers, body = change(signed_headers(SECRET, "msg_x", body), body)
    assert verify(SECRET, headers, body) == (False, "signature does not match")


@pytest.mark.parametrize(("minutes", "accepted"), [(-10, False), (-6, False), (-4, True), (4, True), (6, False)])
def test_verify_holds_the_five_minute_window_both_ways(minutes, accepted):
    body = event()
    at = datetime.now(tz=timezone.utc) + timedelta(minutes=minutes)
    assert verify(SECRET, signed_headers(SECRET, "msg_t", body, at=at), body)[0] is accepted
    assert LESSON["TOLERANCE"] == 5 * 60


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_refuses_missing_headers(missing):
    body = event()
    headers = signed_headers(SECRET, "msg_m", body)
    del headers[missing]
    assert verify(SECRET, headers, body) == (False, "missing or malformed webhook headers")


def test_verify_compares_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    scope = lesson_definitions("TOLERANCE", "verify", hmac=SimpleNamespace(new=hmac.new, compare_digest=spy))
    body = event()
    assert scope["verify"](SECRET, signed_headers(SECRET, "msg_c", body), body)[0]
    assert calls, "verify must compare signatures with hmac.compare_digest"


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"]), st.text()),
    body=st.text(max_size=1000),
)
def test_verify_never_crashes_and_never_accepts_unsigned_input(headers, body):
    assert verify(SECRET, headers, body)[0] is False


@settings(max_examples=150, deadline=None)
@given(body=st.text(max_size=300), webhook_id=header_text.filter(bool))
def test_a_genuine_signature_over_any_text_is_accepted_by_both(body, webhook_id):
    headers = signed_headers(SECRET, webhook_id, body)
    assert verify(SECRET, headers, body)[0]
    Webhook(SECRET).verify(body, headers, json_parse=False)


# ------------------------------------------------------------------ the lesson's receive, over HTTP


def test_a_valid_delivery_is_queued_once_with_its_id(server, sent):
    body = event()
    assert post(server, body, signed_headers(SECRET, "msg_ok", body)) == (202, "queued")
    assert len(sent) == 1 and sent[0]["MessageBody"] == body
    assert sent[0]["MessageAttributes"]["webhook-id"]["StringValue"] == "msg_ok"


def test_a_repeat_is_answered_200_and_not_queued_again(server, sent):
    body = event()
    assert post(server, body, signed_headers(SECRET, "msg_rep", body))[0] == 202
    later = signed_headers(SECRET, "msg_rep", body, at=datetime.now(tz=timezone.utc) + timedelta(seconds=30))
    assert post(server, body, later) == (200, "duplicate: already queued")
    assert len(sent) == 1


@pytest.mark.parametrize(
    "headers",
    [
        lambda b: signed_headers(new_secret(), "msg_f", b),
        lambda b: signed_headers(SECRET, "msg_f", b.replace("m-1", "m-6")),
        lambda b: signed_headers(SECRET, "msg_f", b, at=datetime.now(tz=timezone.utc) - timedelta(minutes=10)),
        lambda b: {"content-type": "application/json"},
    ],
    ids=["wrong secret", "signed another body", "stale", "unsigned"],
)
def test_forgeries_are_401_and_never_queued(server, sent, headers):
    body = event()
    assert post(server, body, headers(body))[0] == 401
    assert sent == []


def test_a_failed_send_answers_500_and_the_retry_gets_through(server, sent, served):
    served[1].fail = 1
    body = event()
    status, reason = post(server, body, signed_headers(SECRET, "msg_flaky", body))
    assert status == 500 and "ConnectionError" in reason
    assert post(server, body, signed_headers(SECRET, "msg_flaky", body))[0] == 202
    assert len(sent) == 1


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
def test_random_requests_over_http_are_refused_and_never_queued(server, sent, headers, body):
    status, _ = post(server, body, headers)
    assert status in (400, 401)
    assert sent == []


# ------------------------------------------------------------------ the server's plumbing


def test_oversized_body_is_413_before_it_is_read(server, sent):
    head = f"POST {MAIL} HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    assert raw(server, head.encode()).startswith(b"HTTP/1.0 413")
    assert sent == []


def test_a_whole_oversized_delivery_is_413(server, sent):
    body = json.dumps({"type": "email.clicked", "data": {"mail_id": "m-1", "pad": "x" * MAX_BODY}})
    assert post(server, body, signed_headers(SECRET, "msg_big", body))[0] == 413
    assert sent == []


def test_chunked_body_without_length_is_411(server, sent):
    request = f"POST {MAIL} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
    assert raw(server, request.encode()).startswith(b"HTTP/1.0 411")
    assert sent == []


def test_a_body_that_is_not_utf8_is_400(server, sent):
    assert post(server, b"\xff\xfe{}", {"webhook-id": "msg_bin"})[0] == 400
    assert sent == []


def test_slow_client_gets_408_within_the_bound(server, sent):
    body = event().encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(SECRET, "msg_slow", body.decode()).items())
    with socket.create_connection((HOST, server.port), timeout=5) as s:
        s.sendall(f"POST {MAIL} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode())
        t0 = time.monotonic()
        s.sendall(body[:5])  # then trickle: one byte every 0.2 s, never finishing in time
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
    assert sent == []


def test_a_client_that_never_sends_its_body_is_cut_off(server, sent):
    t0 = time.monotonic()
    answer = raw(server, f"POST {MAIL} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 408")
    assert time.monotonic() - t0 < READ_TIMEOUT + 1.0
    assert sent == []


def test_other_methods_and_paths_are_refused(server, sent):
    conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
    conn.request("GET", MAIL)
    assert conn.getresponse().status == 405
    conn.close()
    body = event()
    assert post(server, body, signed_headers(SECRET, "msg_path", body), path="/admin")[0] == 404
    assert sent == []


def test_a_function_that_raises_or_returns_nonsense_is_answered_500():
    def boom(headers, body):
        raise KeyError("Webhook-Id")

    with WebhookServer({"/a": boom, "/b": lambda h, b: None, "/c": lambda h, b: 204}) as server:
        status, reason = post(server, "{}", {}, path="/a")
        assert status == 500 and reason == "boom raised KeyError: 'Webhook-Id'"
        status, reason = post(server, "{}", {}, path="/b")
        assert status == 500 and "return (status, reason)" in reason
        assert post(server, "{}", {}, path="/c") == (204, "")
    assert [r.status for r in server.log] == [500, 500, 204]


def test_the_function_gets_lower_case_header_names_and_text():
    got: list[tuple[dict, str]] = []
    with WebhookServer({"/x": lambda h, b: got.append((h, b)) or (200, "ok")}) as server:
        assert post(server, "héllo", {"Webhook-ID": "msg_1", "X-Amz-Sns-Message-Type": "Notification"}, "/x")[0] == 200
    headers, body = got[0]
    assert headers["webhook-id"] == "msg_1" and headers["x-amz-sns-message-type"] == "Notification"
    assert body == "héllo"


@pytest.mark.parametrize("result", [(202, "queued"), 202, (599, "")])
def test_answers_that_are_statuses(result):
    assert answer_of(result)[0] in (202, 599)


@pytest.mark.parametrize("result", [None, True, "202", (202,), (99, "x"), (600, "x")])
def test_answers_that_are_not(result):
    with pytest.raises(TypeError):
        answer_of(result)


def test_it_listens_on_127_0_0_1_only():
    with WebhookServer({}) as server:
        assert server._server is not None and server._server.server_address[0] == "127.0.0.1"
        assert server.url("/p") == f"http://127.0.0.1:{server.port}/p"


def test_stop_refuses_connections_and_start_reuses_the_port():
    server = WebhookServer({"/x": lambda h, b: (202, "ok")}).start()
    port = server.port
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2)
    server.start()
    try:
        assert server.port == port and post(server, "{}", {}, "/x")[0] == 202
    finally:
        server.stop()


# ------------------------------------------------------------------ the lesson's worker loop (moto SQS)


@mock_aws
def test_the_worker_loop_deletes_what_it_handled_and_leaves_failures_for_the_dlq():
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    messages = [("msg_1", {"mail_id": "m-1"}), ("msg_2", {"mail": {"id": "m-2"}}), ("msg_1", {"mail_id": "m-1"})]
    for webhook_id, data in messages:  # msg_1 twice: at-least-once delivery, imitated
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"type": "email.opened", "data": data}),
            MessageAttributes={"webhook-id": {"DataType": "String", "StringValue": webhook_id}},
        )
    scope = lesson_definitions("handle", "work", sqs=sqs, events_url=url, processed={}, counts=Counter(), handled=[])
    with Background(scope["work"]) as worker:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0).get(
            "Messages"
        ):
            time.sleep(0.2)
    assert not worker.running and worker.error == ""
    assert scope["counts"] == Counter({("m-1", "email.opened"): 1})  # counted once, though delivered twice
    notes = [(webhook_id, note) for webhook_id, _, note in scope["handled"]]
    assert ("msg_1", "already processed: skipped") in notes
    failures = [n for w, n in notes if w == "msg_2"]
    assert len(failures) == 2 and all("KeyError" in n for n in failures)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == left["ApproximateNumberOfMessagesNotVisible"] == "0"
