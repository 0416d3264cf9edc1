"""The classroom's server launcher, run by path with the servers' Python (``.venv-server``), not labkit's.

    .venv-server/bin/python labkit/classroom/server.py <marker> ministack|moto <bind address> <port>

It imports only the standard library, ministack and moto (labkit is not installed there). It starts
MiniStack (behind the embedded backend's validating layer, ``labkit/backends/embedded/validating.py``) or
moto on ``<bind address>:<port>`` with one admin call added, ``POST
/_labkit/classroom/reset?account=<12 digits>`` (drop that account's state, keep every other), and
the servers' own whole-server admin pages closed to anyone without the instructor's token (read
from ``LABKIT_CLASSROOM_TOKEN``). On moto, a 12-digit access key id becomes the account
(``x-moto-account-id``), as it is on MiniStack. ``<marker>`` only marks the command line as
labkit's (``labkit.classroom.room.is_alive``).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

RESET_PATH = "/_labkit/classroom/reset"
TOKEN_VARIABLE = "LABKIT_CLASSROOM_TOKEN"
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


def wipe_ministack(account: str) -> int:
    from ministack.core.responses import AccountRegionScopedDict, AccountScopedDict

    removed = 0
    for obj in gc.get_objects():
        if isinstance(obj, (AccountScopedDict, AccountRegionScopedDict)):
            for key in list(obj._data):
                if isinstance(key, tuple) and key and key[0] == account:
                    obj._data.pop(key, None)
                    removed += 1
    # Warm Lambda workers are keyed "<account>:<region>:<function>:..."; stop this account's.
    try:
        from ministack.core import lambda_runtime

        with lambda_runtime._lock:
            doomed = [
                w
                for k in list(lambda_runtime._workers)
                if k.split(":")[0] == account
                for w in lambda_runtime._workers.pop(k, [])
            ]
        lambda_runtime.kill_workers(doomed)
    except Exception as err:
        print(f"classroom reset: Lambda workers not stopped: {err!r}", flush=True)
    try:
        from ministack.services import sts

        for key, session in list(sts._sessions.items()):
            if f"::{account}:" in str(session.get("Arn", "")):
                sts._sessions.pop(key, None)
    except Exception as err:
        print(f"classroom reset: STS sessions not cleared: {err!r}", flush=True)
    return removed


def wipe_moto(account: str) -> int:
    from moto.core.base_backend import BackendDict, backend_lock

    removed = 0
    with backend_lock:
        backends: Any
        for backends in list(BackendDict._instances):  # type: ignore[misc]  # (a generic's class attribute)
            if dict.__contains__(backends, account):
                dict.pop(backends, account, None)
                removed += 1
    return removed


def validating_layer() -> Any:
    """labkit/backends/embedded/validating.py, loaded by path: the embedded backend's AWS rules, for the room too."""
    import importlib.util

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(package, "backends", "embedded", "validating.py")
    spec = importlib.util.spec_from_file_location("labkit_validating", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve_ministack(secret: bytes) -> None:
    import ministack.app as ministack_app

    inner = validating_layer().wrap(ministack_app.app)  # the room refuses what AWS refuses, as at home

    async def reply(send: Send, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            token = dict(scope.get("headers") or []).get(b"x-labkit-classroom-token", b"")
            if path == RESET_PATH:
                account = account_of(scope.get("query_string", b"").decode())
                if not allowed(token, secret):
                    return await reply(send, 403, {"error": "the instructor's token is required"})
                if scope["method"] != "POST" or account is None:
                    return await reply(send, 400, {"error": "POST with ?account=<12 digits>"})
                async with ministack_app._get_reset_lock():
                    removed = await asyncio.to_thread(wipe_ministack, account)
                return await reply(send, 200, {"removed": removed})
            if (
                path.startswith("/_ministack/")
                and path not in ("/_ministack/health", "/_ministack/ready")
                and not allowed(token, secret)
            ):
                return await reply(send, 403, {"error": "classroom mode: admin pages need the instructor's token"})
        await inner(scope, receive, send)

    ministack_app.app = app
    sys.argv = [sys.argv[0]]
    ministack_app.main()


def _refuse_instances() -> None:
    """Learners' instances never run here (it is the instructor's machine): their console output says so
    (``labkit/backends/embedded/instance_hooks.py``, loaded by path like this file)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "backends" / "embedded" / "instance_hooks.py"
    spec = importlib.util.spec_from_file_location("labkit_instance_hooks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.refuse()


def serve_moto(host: str, port: int, secret: bytes) -> None:
    import signal

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import signal_handler
    from werkzeug.serving import run_simple

    inner = DomainDispatcherApplication(create_backend_app)
    _refuse_instances()

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
            return reply(start_response, "200 OK", {"removed": wipe_moto(account)})
        if path.startswith("/moto-api") and not allowed(token, secret):
            return reply(start_response, "403 Forbidden", {"error": "classroom mode: admin pages need the token"})
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
    """argv: <marker> ministack|moto <bind address> <port>"""
    kind, host, port = argv[1], argv[2], int(argv[3])
    secret = os.environ.pop(TOKEN_VARIABLE).encode()
    if kind == "ministack":
        serve_ministack(secret)
    else:
        serve_moto(host, port, secret)


if __name__ == "__main__":
    # Run by path, this file's folder is first on sys.path: take it off, so none of its neighbours
    # (room.py, roster.py, ...) can stand in for a module of the same name that a server imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    main(sys.argv[1:])
