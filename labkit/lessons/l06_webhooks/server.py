"""The plumbing around lesson 06's receiver: a real HTTP server on 127.0.0.1 that hosts the lesson's functions.

The decisions a webhook receiver makes (is the signature right, is the timestamp fresh, have I
queued this id already, where does it go) are written in the notebook, as plain functions::

    def receive(headers: dict[str, str], body: str) -> tuple[int, str]:
        ...  # verify, deduplicate, sqs.send_message, answer
        return 202, "queued"

``WebhookServer({"/webhooks/mail": receive}).start()`` serves each function at its path, in a
background thread of the kernel, and does only what every HTTP server must do before a function
may look at a request. For every request, in this order:

0. at most ``max_connections`` requests are served at once: one more is answered 503 (which a sender
   retries) at once, without a thread; the request line and headers must arrive within
   ``header_timeout`` seconds in all, or the answer is 408 and the connection is closed (a client that
   sends one header byte a second must not hold a thread for ever: the per-read socket timeout
   alone would let it);
1. anything but POST gets 405, an unknown path 404;
2. a body whose size is not given up front (no ``Content-Length``, or chunked) gets 411, one over
   ``max_body`` bytes 413, both before a byte of it is read;
3. the body must arrive within ``read_timeout`` seconds in all, or the answer is 408 (a client
   that sends one byte a second must not hold a thread for ever), and must be UTF-8 (else 400);
4. the function gets the headers (names in lower case: HTTP header names are case-insensitive)
   and the body as text, and its ``(status, reason)`` is the answer, as JSON. A function that
   raises, or returns something else, is answered 500 with what went wrong; the sender will
   retry a 5xx.

It listens on 127.0.0.1 only, never on every interface. Every request is written to ``log``
(when, path, status, reason, the ``webhook-id`` header, milliseconds to decide) before its answer
is sent, so whoever has an answer finds it in the log.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Receive = Callable[[dict[str, str], str], object]
HOST = "127.0.0.1"  # never "" or 0.0.0.0: the lesson's receiver is not for the network


@dataclass(frozen=True)
class Received:
    """One request the server answered."""

    seconds: float  # since the server was made
    path: str
    status: int
    reason: str
    webhook_id: str
    elapsed_ms: float


def answer_of(result: object) -> tuple[int, str]:
    """A hosted function's result as (status, reason): ``(202, "queued")``, or a bare status ``202``."""
    if isinstance(result, tuple) and len(result) == 2:
        status, reason = result
    else:
        status, reason = result, ""
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise TypeError(f"returned {result!r}: return (status, reason), e.g. (202, 'queued') or (401, 'why')")
    return status, str(reason)


class WebhookServer:
    """``WebhookServer({"/path": function}).start()``; ``url(path)``; ``stop()``; ``log``.

    ``routes`` may be changed while it runs (``server.routes["/sns"] = receive_sns``).
    ``stop()`` closes the socket, so connections are refused; ``start()`` again listens on the same port.
    """

    def __init__(
        self,
        routes: dict[str, Receive],
        *,
        max_body: int = 64 * 1024,
        read_timeout: float = 2.0,
        header_timeout: float = 2.0,
        max_connections: int = 32,
        port: int = 0,
    ) -> None:
        self.routes = dict(routes)
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.port = port
        self.log: list[Received] = []
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self) -> WebhookServer:
        """Listen on 127.0.0.1: a free port the first time, the same port after a ``stop()``."""
        if self._server is not None:
            return self
        owner = self

        class Handler(_Handler):
            server_owner = owner
            timeout = owner.read_timeout  # per socket read; the whole body has its own deadline too

        server = _CappedServer((HOST, self.port), Handler, owner)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="labkit-webhook-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- what happened

    def record(self, path: str, status: int, reason: str, webhook_id: str, started: float) -> None:
        now = time.monotonic()
        entry = Received(round(now - self._t0, 3), path, status, reason, webhook_id, round((now - started) * 1000, 2))
        with self._lock:
            self.log.append(entry)

    def statuses(self, path: str | None = None) -> dict[int, int]:
        """How many requests got each status (on ``path``, or on every path)."""
        counts: dict[int, int] = {}
        for r in self.log:
            if path is None or r.path == path:
                counts[r.status] = counts.get(r.status, 0) + 1
        return dict(sorted(counts.items()))

    def call(self, path: str, headers: dict[str, str], body: str) -> tuple[int, str]:
        """Run the function at ``path`` on one request: its answer, or 500 with what went wrong."""
        function = self.routes.get(path)
        if function is None:
            return 404, "no such endpoint"
        try:
            return answer_of(function(headers, body))
        except Exception as err:  # the learner's function failed: say how, as the answer the sender sees
            return 500, f"{getattr(function, '__name__', 'the function')} raised {type(err).__name__}: {err}"


def _raw_answer(sock: socket.socket, status: int, reason: str) -> None:
    """Answer on a bare socket (no handler, or one stuck in its headers), then close our side."""
    payload = json.dumps({"status": status, "reason": reason}).encode()
    head = f"HTTP/1.0 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    with contextlib.suppress(OSError):
        sock.sendall((head + "Connection: close\r\n\r\n").encode() + payload)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _CappedServer(ThreadingHTTPServer):
    """A thread per request, at most ``max_connections`` at once; the one over that is answered 503 at once."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: WebhookServer) -> None:
        self.owner = owner
        self.slots = threading.BoundedSemaphore(owner.max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.owner.record("", 503, "too many connections", "", time.monotonic())
            _raw_answer(request, 503, "too many connections")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that went away: nothing to print
        pass


class _Handler(BaseHTTPRequestHandler):
    server_owner: WebhookServer
    server_version = "labkit-receiver"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # the server keeps its own log
        pass

    def setup(self) -> None:
        super().setup()
        self._headers_lock = threading.Lock()
        self._headers_state = ""  # "" while the headers come in, then "read" or "cut"
        self._cut = threading.Timer(self.server_owner.header_timeout, self._headers_too_slow)
        self._cut.daemon = True
        self._cut.start()

    def _headers_too_slow(self) -> None:
        """The request line and headers did not arrive in time: answer 408 and close, whatever the reads wait for."""
        with self._headers_lock:
            if self._headers_state:
                return
            self._headers_state = "cut"
        reason = f"headers not received within {self.server_owner.header_timeout:g} s"
        self.server_owner.record("", 408, reason, "", time.monotonic())
        _raw_answer(self.connection, 408, reason)
        self.close_connection = True

    def parse_request(self) -> bool:
        ok = super().parse_request()
        with self._headers_lock:
            cut = self._headers_state == "cut"  # cut off while the headers came in: answered already
            self._headers_state = self._headers_state or "read"
        self._cut.cancel()
        if cut:
            self.close_connection = True
            return False
        return ok

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the connection was cut (headers too slow) or the client went away
            self.close_connection = True

    def finish(self) -> None:
        self._cut.cancel()
        with contextlib.suppress(OSError):
            super().finish()

    def _answer(self, status: int, reason: str, started: float, path: str, webhook_id: str = "") -> None:
        payload = json.dumps({"status": status, "reason": reason}).encode()
        # Logged before it is sent: a client that has the answer finds it in the log.
        self.server_owner.record(path, status, reason, webhook_id, started)
        with contextlib.suppress(OSError):  # the client went away; the answer is logged all the same
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        self.close_connection = True

    def _refuse(self) -> None:
        self._answer(405, "only POST", time.monotonic(), self.path.split("?", 1)[0])

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _refuse

    def do_POST(self) -> None:
        started = time.monotonic()
        owner = self.server_owner
        path = self.path.split("?", 1)[0]
        if path not in owner.routes:
            return self._answer(404, "no such endpoint", started, path)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or "Content-Length" not in self.headers:
            return self._answer(411, "Content-Length required", started, path)
        try:
            length = int(self.headers["Content-Length"])
            if length < 0:
                raise ValueError(length)
        except ValueError:
            return self._answer(400, "bad Content-Length", started, path)
        if length > owner.max_body:
            return self._answer(413, f"body over {owner.max_body} bytes", started, path)
        raw = self._read(length, started + owner.read_timeout)
        if raw is None:
            return self._answer(408, f"body not received within {owner.read_timeout:g} s", started, path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._answer(400, "body is not UTF-8 text", started, path, webhook_id)
        status, reason = owner.call(path, headers, body)
        self._answer(status, reason, started, path, webhook_id)

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
