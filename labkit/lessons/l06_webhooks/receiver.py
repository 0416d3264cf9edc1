"""The customer's side: a real HTTP server that takes webhooks the way production receivers do.

``WebhookReceiver`` listens on 127.0.0.1 (a free port, in a background thread) and, for every
POST to ``/webhooks/mail``, in this order:

1. refuses a body it was not told the size of (411) or one over ``max_body`` bytes (413),
   before reading it;
2. reads the body within ``read_timeout`` seconds in total, or answers 408 (a slow client
   must not hold a thread for ever);
3. checks the three Standard Webhooks headers are there (400), the timestamp is within
   5 minutes of now (401: too old is a replay of a captured request, too new is forged),
   and the signature matches, with ``standardwebhooks.Webhook.verify`` (401);
4. parses the JSON (400);
5. drops a webhook id it has already taken (200, so the sender stops retrying; nothing is
   processed twice);
6. hands the event to ``handoff`` (the lesson's puts it on an SQS queue) and answers 202 at
   once: the work happens later, in a worker, so the sender never waits for it.

``/sns`` takes Amazon SNS's HTTP(S) deliveries (``x-amz-sns-message-type``): it keeps
subscription confirmations for the notebook to confirm, and notifications in ``sns_inbox``.

Every request is written to ``log`` (status, reason, time to answer).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

TOLERANCE_S = 5 * 60  # the standardwebhooks package accepts timestamps within 5 minutes of now
MAIL_PATH = "/webhooks/mail"
SNS_PATH = "/sns"
SNS_TYPES = ("SubscriptionConfirmation", "Notification", "UnsubscribeConfirmation")


class SeenIds:
    """Webhook ids already taken, remembered for ``ttl`` seconds.

    A replay older than the timestamp tolerance is refused by its timestamp anyway, so an id
    need only be remembered a little longer than that window: the store stays bounded.
    In production this would be shared by every copy of the receiver (e.g. a DynamoDB
    conditional put with a TTL attribute); here it is one process's memory.
    """

    def __init__(self, ttl: float = TOLERANCE_S + 60, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, webhook_id: str) -> bool:
        """True if the id is new (and now taken); False for a duplicate."""
        now = self._clock()
        with self._lock:
            for old in [k for k, t in self._seen.items() if now - t > self.ttl]:
                del self._seen[old]
            if webhook_id in self._seen:
                return False
            self._seen[webhook_id] = now
            return True

    def release(self, webhook_id: str) -> None:
        """Forget an id whose hand-off failed, so the sender's retry is taken."""
        with self._lock:
            self._seen.pop(webhook_id, None)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class Received:
    """One request the receiver answered."""

    seconds: float
    path: str
    status: int
    reason: str
    webhook_id: str
    elapsed_ms: float


class WebhookReceiver:
    """Verify, de-duplicate, hand off, answer: see the module docstring.

    ``handoff(webhook_id, body)`` is called once per new, verified event; if it raises, the
    receiver answers 503 and forgets the id, so the sender's retry gets through.
    ``sns_topics``: the topic ARNs whose SNS messages ``/sns`` accepts (others get 403).
    """

    def __init__(
        self,
        secret: str,
        handoff: Callable[[str, str], None],
        *,
        max_body: int = 64 * 1024,
        read_timeout: float = 2.0,
        sns_topics: set[str] | None = None,
        port: int = 0,
    ) -> None:
        self.webhook = Webhook(secret)
        self.handoff = handoff
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.sns_topics = sns_topics if sns_topics is not None else set()
        self.seen = SeenIds()
        self.log: list[Received] = []
        self.sns_inbox: list[dict] = []
        self.confirmations: list[dict] = []
        self.port = port
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{MAIL_PATH}"

    @property
    def sns_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SNS_PATH}"

    def start(self) -> WebhookReceiver:
        """Listen on 127.0.0.1 (a free port the first time, the same port after a stop)."""
        if self._server is not None:
            return self
        receiver = self

        class Handler(_Handler):
            owner = receiver
            timeout = receiver.read_timeout  # per socket read; the whole body has its own deadline

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="labkit-webhook-receiver"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket (connections are refused until ``start()``)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -------------------------------------------------------------- what happened

    def record(self, path: str, status: int, reason: str, webhook_id: str, started: float) -> None:
        now = time.monotonic()
        entry = Received(round(now - self._t0, 3), path, status, reason, webhook_id, round((now - started) * 1000, 2))
        with self._lock:
            self.log.append(entry)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for r in self.log:
            counts[r.status] = counts.get(r.status, 0) + 1
        return dict(sorted(counts.items()))

    # -------------------------------------------------------------- the decisions

    def verify(self, headers: dict[str, str], body: bytes) -> tuple[int, str, dict | None]:
        """Steps 3–4 for a body already read: (status, reason, payload if accepted so far)."""
        headers = {k.lower(): v for k, v in headers.items()}
        missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if not headers.get(h)]
        if missing:
            return 400, f"missing header {', '.join(missing)}", None
        raw = headers["webhook-timestamp"]
        try:
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
                raise ValueError(raw)
            age = time.time() - int(raw)
        except ValueError:
            return 400, "webhook-timestamp is not a Unix time in seconds", None
        if age > TOLERANCE_S:
            return 401, f"timestamp {age:.0f} s old: stale, maybe a replay", None
        if age < -TOLERANCE_S:
            return 401, f"timestamp {-age:.0f} s in the future", None
        try:
            self.webhook.verify(body, headers, json_parse=False)
        except Exception:  # WebhookVerificationError, or a signature header too mangled to parse
            return 401, "signature does not match", None
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "body is not JSON", None
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return 400, "payload has no event type", None
        return 202, "accepted", payload

    def take(self, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        """Verify, de-duplicate and hand off one delivery: (status, reason, webhook id)."""
        status, reason, payload = self.verify(headers, body)
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        if payload is None:
            return status, reason, webhook_id
        if not self.seen.claim(webhook_id):
            return 200, "duplicate webhook id: already taken, ignored", webhook_id
        try:
            self.handoff(webhook_id, body.decode())
        except Exception as err:
            self.seen.release(webhook_id)
            return 503, f"could not queue it ({type(err).__name__}): try again", webhook_id
        return 202, "accepted", webhook_id

    def take_sns(self, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
        """Amazon SNS's HTTP delivery: keep confirmations to confirm, notifications in ``sns_inbox``."""
        kind = {k.lower(): v for k, v in headers.items()}.get("x-amz-sns-message-type", "")
        if kind not in SNS_TYPES:
            return 400, "not an SNS message (x-amz-sns-message-type)", ""
        try:
            message = json.loads(body)
        except ValueError:
            return 400, "body is not JSON", ""
        if not isinstance(message, dict) or message.get("Type") != kind:
            return 400, "message type does not match its header", ""
        if message.get("TopicArn") not in self.sns_topics:
            return 403, "not a topic this receiver subscribed to", message.get("MessageId", "")
        with self._lock:
            if kind == "SubscriptionConfirmation":
                self.confirmations.append(message)
            elif all(m.get("MessageId") != message.get("MessageId") for m in self.sns_inbox):
                self.sns_inbox.append(message)
        return 200, kind, message.get("MessageId", "")


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    server_version = "labkit-receiver"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # the receiver keeps its own log
        pass

    def _answer(self, status: int, reason: str, webhook_id: str, started: float, path: str) -> None:
        payload = json.dumps({"status": status, "reason": reason}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client went away; the answer is still logged
            self.wfile.write(payload)
        self.close_connection = True
        self.owner.record(path, status, reason, webhook_id, started)

    def _refuse(self) -> None:
        self._answer(405, "only POST", "", time.monotonic(), self.path)

    do_GET = do_PUT = do_DELETE = do_PATCH = _refuse

    def do_POST(self) -> None:
        started = time.monotonic()
        path = self.path.split("?", 1)[0]
        owner = self.owner
        if path not in (MAIL_PATH, SNS_PATH):
            return self._answer(404, "no such endpoint", "", started, path)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or "Content-Length" not in self.headers:
            return self._answer(411, "Content-Length required", "", started, path)
        try:
            length = int(self.headers["Content-Length"])
            if length < 0:
                raise ValueError(length)
        except ValueError:
            return self._answer(400, "bad Content-Length", "", started, path)
        if length > owner.max_body:
            return self._answer(413, f"body over {owner.max_body} bytes", "", started, path)
        body = self._read(length, started + owner.read_timeout)
        if body is None:
            return self._answer(408, f"body not received within {owner.read_timeout:g} s", "", started, path)
        headers = dict(self.headers.items())
        if path == SNS_PATH:
            status, reason, webhook_id = owner.take_sns(headers, body)
        else:
            status, reason, webhook_id = owner.take(headers, body)
        self._answer(status, reason, webhook_id, started, path)

    def _read(self, length: int, deadline: float) -> bytes | None:
        """Read exactly ``length`` bytes before ``deadline``; None if the client is too slow or went away."""
        chunks, got = [], 0
        while got < length:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.connection.settimeout(left)
            try:
                chunk = self.rfile.read1(min(65536, length - got))
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
