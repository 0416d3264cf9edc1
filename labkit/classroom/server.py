"""The classroom's server launcher, run by path with the servers' Python (``.venv-server``), not labkit's.

    .venv-server/bin/python labkit/classroom/server.py <marker> ministack|moto <bind> <port> <roster> <sandbox mode>

It imports only the standard library, ministack and moto (labkit is not installed there), and its
neighbours ``signatures.py``, ``sandbox.py``, ``wipes.py`` and ``reports.py``, loaded by path. It starts
MiniStack (behind the embedded backend's validating layer, ``labkit/backends/embedded/validating.py``) or moto on
``<bind address>:<port>`` with, in front of each:

- two learner pages: ``GET /_labkit/classroom/run`` names this start of the room (so a learner's kernel
  tells a restart), ``POST /_labkit/classroom/progress`` takes a pass a learner's kernel reports, signed
  with their key (``reports.py``);
- one admin call added, ``POST /_labkit/classroom/reset?account=<12 digits>`` (drop that account's
  state, keep every other), and the servers' own whole-server admin pages closed, both to anyone
  without the instructor's token. The token arrives on standard input (a pipe from ``labkit
  classroom up``), never in an environment variable: ``/proc/<pid>/environ`` keeps a variable even
  after ``os.environ.pop``;
- every signed request checked against the roster's secret (``signatures.py``): a wrong secret is
  refused with AWS's 403, and ``sts:AssumeRole`` into another account is refused;
- on moto, a 12-digit access key id becomes the account (``x-moto-account-id``), as on MiniStack;
- on MiniStack, with ``sandbox``, every process it starts (learners' Lambda handlers) runs inside
  bubblewrap (``sandbox.py``); the server refuses to start if no sandbox can be made. A handler's
  credentials are its learner's own key and secret, so its SDK calls pass the signature check.

``<sandbox mode>`` is ``sandbox`` or ``unsandboxed``; ``<roster>`` is the roster file (read again
when it changes). ``<marker>`` only marks the command line as labkit's (``labkit.classroom.room.is_alive``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

RESET_PATH = "/_labkit/classroom/reset"
RUN_PATH = "/_labkit/classroom/run"  # which start of the room answers: a learner's kernel tells a restart by it
PROGRESS_PATH = "/_labkit/classroom/progress"  # a learner's kernel reports a pass there, signed with their key
ACCOUNT = re.compile(r"^\d{12}$")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def allowed(token: str | bytes, secret: bytes) -> bool:
    """True if ``token`` is the instructor's (compared in constant time)."""
    return bool(token) and hmac.compare_digest(token.encode() if isinstance(token, str) else token, secret)


def account_of(query: str) -> str | None:
    """The 12-digit ``account=`` of a query string, or None."""
    value = parse_qs(query).get("account", [""])[0]
    return value if ACCOUNT.match(value) else None


def key_of(environ: MutableMapping[str, Any]) -> str:
    """The access key id a request is signed with (header or presigned query), "" if none."""
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    key = match.group(1) if match else parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    return key.split("/")[0]


def _load(name: str, *parts: str) -> Any:
    """A labkit module loaded by path (labkit is not installed in the servers' environment)."""
    import importlib.util

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(name, os.path.join(package, *parts))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def validating_layer() -> Any:
    """labkit/backends/embedded/validating.py: the embedded backend's AWS rules, for the room too."""
    return _load("labkit_validating", "backends", "embedded", "validating.py")


def signatures() -> Any:
    return _load("labkit_signatures", "classroom", "signatures.py")


def session_secret(key_id: str) -> str | None:
    """The secret of a MiniStack STS session key (from a learner's own AssumeRole), or None."""
    from ministack.services import sts

    session = sts._sessions.get(key_id)
    return None if session is None else str(session.get("SecretAccessKey", ""))


def session_account(key_id: str) -> str:
    from ministack.services import sts

    arn = str((sts._sessions.get(key_id) or {}).get("Arn", ""))
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def roster_secrets_for_root_keys(keys: Any) -> None:
    """MiniStack gives every 12-digit (root) key the one secret of its own environment ("test") where it
    checks a signature itself (S3 presigned URLs): in a room, that key's secret is the roster's."""
    import dataclasses

    from ministack.core import iam_evaluator

    original = iam_evaluator.resolve_credential

    def resolve_credential(access_key_id: str, *args: Any, **kwargs: Any) -> Any:
        found = original(access_key_id, *args, **kwargs)
        secret = keys.secret(access_key_id) if keys.on_roster(access_key_id) else None
        if secret is not None and isinstance(found, iam_evaluator.ResolvedCredential):
            found = dataclasses.replace(found, secret_access_key=secret)
        return found

    # Modules imported later take it from iam_evaluator; those already imported took the original by name.
    iam_evaluator.resolve_credential = resolve_credential
    _swap_everywhere(original, resolve_credential)


def _swap_everywhere(original: Any, replacement: Any) -> None:
    for module in list(sys.modules.values()):
        if (
            getattr(module, "__name__", "").startswith("ministack.")
            and getattr(module, "resolve_credential", None) is original
        ):
            setattr(module, "resolve_credential", replacement)  # noqa: B010


def learners_own_credentials(keys: Any) -> None:
    """A Lambda handler signs with its learner's key and secret (MiniStack's default: the key id and "test")."""
    from ministack.core import lambda_runtime
    from ministack.services import lambda_svc

    original = lambda_runtime.execution_credentials

    def execution_credentials(config: dict[str, Any]) -> dict[str, str]:
        made = dict(original(config))
        secret = keys.secret(made.get("AWS_ACCESS_KEY_ID", ""))
        made["AWS_SECRET_ACCESS_KEY"] = secret or "not-a-learner"
        return made

    lambda_runtime.execution_credentials = execution_credentials
    lambda_svc.execution_credentials = execution_credentials  # imported by name there


async def _whole_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the caller went away
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body"):
            return b"".join(chunks)


def serve_ministack(secret: bytes, roster: str, sandboxed: bool) -> None:
    import ministack.app as ministack_app

    checks = signatures()
    reports = _load("labkit_reports", "classroom", "reports.py")
    wipes = _load("labkit_wipes", "classroom", "wipes.py")
    keys = checks.Keys(roster, extra=session_secret)
    roster_secrets_for_root_keys(keys)
    learners_own_credentials(keys)
    if sandboxed:
        box = _load("labkit_sandbox", "classroom", "sandbox.py")
        why = box.probe()
        if why is not None:
            print(f"classroom: {why}; the room runs no learner code without it", flush=True)
            raise SystemExit(2)
        box.install(os.environ.get("BIND_HOST", "127.0.0.1"), int(os.environ["GATEWAY_PORT"]))
    inner = validating_layer().wrap(ministack_app.app)  # the room refuses what AWS refuses, as at home
    run_id = secrets.token_hex(8)  # new at every start of the room (labkit.backends.classroom_join.room_run)

    async def reply(send: Send, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        await raw_reply(send, status, [("content-type", "application/json")], body)

    async def raw_reply(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        listed = [(k.lower().encode(), v.encode()) for k, v in headers] + [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": listed})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # a presigned connect URL names an account too: checked the same
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
            query = scope.get("query_string", b"").decode("latin-1")
            raw = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope.get("path", "")
            if checks.is_signed(headers, query) and checks.refusal("GET", raw, query, headers, b"", keys):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})
                return
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path = scope.get("path", "")
        token = dict(scope.get("headers") or []).get(b"x-labkit-classroom-token", b"")
        if path == RUN_PATH:
            return await reply(send, 200, {"run": run_id})
        if path == RESET_PATH:
            account = account_of(scope.get("query_string", b"").decode())
            if not allowed(token, secret):
                return await reply(send, 403, {"error": "the instructor's token is required"})
            if scope["method"] != "POST" or account is None:
                return await reply(send, 400, {"error": "POST with ?account=<12 digits>"})
            async with ministack_app._get_reset_lock():
                removed = await asyncio.to_thread(wipes.wipe_ministack, account)
            return await reply(send, 200, {"removed": removed})
        if (
            path.startswith("/_ministack/")
            and path not in ("/_ministack/health", "/_ministack/ready")
            and not allowed(token, secret)
        ):
            return await reply(send, 403, {"error": "classroom mode: admin pages need the instructor's token"})
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        query = scope.get("query_string", b"").decode("latin-1")
        signed = checks.is_signed(headers, query)
        if not signed and scope["method"] in ("GET", "HEAD") and "Action=" not in query:
            await inner(scope, receive, send)  # anonymous: the server's default account
            return
        body = await _whole_body(receive)
        if body is None:
            return
        raw_path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else path
        service = checks.service_of(headers, query)
        if signed:
            refused = checks.refusal(scope["method"], raw_path, query, headers, body, keys)
        else:
            unsigned = checks.unsigned_refusal(query, headers, body)
            refused = None if unsigned is None else (*unsigned, "")
        if refused is None and signed:
            caller = key_of_headers(headers, query)
            account = caller if keys.on_roster(caller) else session_account(caller)
            why = checks.foreign_refusal(service, path, query, headers, body, account)
            if why is None and service == "sts":
                why = checks.assume_role_refusal(body, query, account)
            if why is not None:
                refused = ("AccessDenied", why, caller)
        if refused is not None:
            status, out_headers, out = checks.error(refused[0], refused[1], headers, service)
            return await raw_reply(send, status, out_headers, out)
        if path == PROGRESS_PATH:  # a pass a learner's kernel reports: only signed, by a learner on the roster
            caller = key_of_headers(headers, query) if signed else ""
            if scope["method"] != "POST" or not keys.on_roster(caller):
                return await reply(send, 403, {"error": "report a pass with POST, signed with a learner's key"})
            return await reply(send, *reports.append(os.path.dirname(roster), caller, body))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await inner(scope, replay, send)

    ministack_app.app = app
    import ministack.core.iam_evaluator as evaluator

    # Service modules imported since the patch took it by name already; none holds the original.
    assert all(
        getattr(m, "resolve_credential", evaluator.resolve_credential) is evaluator.resolve_credential
        for n, m in list(sys.modules.items())
        if n.startswith("ministack.")
    )
    sys.argv = [sys.argv[0]]
    ministack_app.main()


def key_of_headers(headers: MutableMapping[str, str], query: str) -> str:
    return key_of({"HTTP_AUTHORIZATION": headers.get("authorization", ""), "QUERY_STRING": query})


def serve_moto(host: str, port: int, secret: bytes, roster: str) -> None:
    import io
    import signal

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import signal_handler
    from werkzeug.serving import run_simple

    checks = signatures()
    wipes = _load("labkit_wipes", "classroom", "wipes.py")
    keys = checks.Keys(roster)
    inner = DomainDispatcherApplication(create_backend_app)
    _load("labkit_instance_hooks", "backends", "embedded", "instance_hooks.py").refuse()  # no user data runs here

    def reply(start_response: StartResponse, status: str, doc: dict[str, Any]) -> Iterable[bytes]:
        body = json.dumps(doc).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        token = environ.get("HTTP_X_LABKIT_CLASSROOM_TOKEN", "")
        if path == RESET_PATH:
            account = account_of(environ.get("QUERY_STRING", ""))
            if not allowed(token, secret):
                return reply(start_response, "403 Forbidden", {"error": "the instructor's token is required"})
            if environ["REQUEST_METHOD"] != "POST" or account is None:
                return reply(start_response, "400 Bad Request", {"error": "POST with ?account=<12 digits>"})
            return reply(start_response, "200 OK", {"removed": wipes.wipe_moto(account)})
        if path.startswith("/moto-api") and not allowed(token, secret):
            return reply(start_response, "403 Forbidden", {"error": "classroom mode: admin pages need the token"})
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        query = environ.get("QUERY_STRING", "")
        if checks.is_signed(headers, query):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path).split("?", 1)[0]
            refused = checks.refusal(environ["REQUEST_METHOD"], raw_path, query, headers, body, keys)
            if refused is not None:
                status, out_headers, out = checks.error(
                    refused[0], refused[1], headers, checks.service_of(headers, query)
                )
                start_response(f"{status} Forbidden", [*out_headers, ("Content-Length", str(len(out)))])
                return [out]
        # The account is the 12-digit access key id, as on MiniStack; any other key: moto's own rules.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        key = key_of(environ)
        if ACCOUNT.match(key):
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = key
        result: Iterable[bytes] = inner(environ, start_response)
        return result

    signal.signal(signal.SIGTERM, signal_handler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (MiniStack: LOG_LEVEL)
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


def main(argv: list[str]) -> None:
    """argv: <marker> ministack|moto <bind address> <port> <roster> sandbox|unsandboxed; the token on stdin."""
    kind, host, port, roster, mode = argv[1], argv[2], int(argv[3]), argv[4], argv[5]
    secret = sys.stdin.buffer.readline().strip()
    if not secret:
        raise SystemExit("classroom: no admin token on standard input (start the room with `labkit classroom up`)")
    if kind == "ministack":
        serve_ministack(secret, roster, sandboxed=mode != "unsandboxed")
    else:
        serve_moto(host, port, secret, roster)


if __name__ == "__main__":
    # Run by path, this file's folder is first on sys.path: take it off, so none of its neighbours
    # (room.py, roster.py, ...) can stand in for a module of the same name that a server imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    main(sys.argv[1:])
