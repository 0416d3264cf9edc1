"""The embedded server's validating layer, run by path with the servers' Python (``.venv-server``):

    .venv-server/bin/python labkit/backends/embedded/validating.py ministack

starts MiniStack with each request first held against AWS's rules (``rules.py``): a call AWS refuses
is answered as AWS answers it (code, message, HTTP status, in the caller's protocol), so boto3 raises
the same ``ClientError``, and the server's log names the rule. Where MiniStack lacks
``ListDeadLetterSourceQueues``, ``dead_letter_sources.py`` answers it. The classroom's room
(``labkit/classroom/server.py``) wraps its MiniStack with the same ``wrap``.

It reads SQS in both protocols (JSON ``X-Amz-Target: AmazonSQS.*``; query, a form signed for ``sqs``),
S3 ``CreateBucket`` (a ``PUT`` on a bucket, path-style or ``<bucket>.localhost``) and Lambda's
``/2015-03-31/event-source-mappings`` calls; everything else passes straight through. What a rule
needs of the server's state it asks MiniStack through MiniStack's own API, with the caller's
credentials, so an account (a classroom's learner) sees only its own. Standard library only, and
MiniStack, imported in ``main`` (labkit is not installed in the servers' environment).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape


def _sibling(name: str) -> ModuleType:
    """Load a module next to this file by path (the servers' Python has no labkit package)."""
    spec = importlib.util.spec_from_file_location(f"labkit_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


if __package__ == "labkit.backends.embedded":
    from labkit.backends.embedded import dead_letter_sources as sources
    from labkit.backends.embedded import rules
else:  # run (or loaded) by path with the servers' Python
    rules, sources = _sibling("rules"), _sibling("dead_letter_sources")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Response = tuple[int, dict[str, str], bytes]

ESM_PATH = "/2015-03-31/event-source-mappings"
SQS_ACTIONS = frozenset(action for service, action in rules.ACTIONS if service == "sqs") | {
    "ListDeadLetterSourceQueues"
}
_SIGNED_FOR = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_QUERY_NS = "http://queue.amazonaws.com/doc/2012-11-05/"
# The query protocol's names for the few SQS errors whose JSON name differs (botocore reports these).
LEGACY_SQS_CODES = {
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
}


# --- what a request is --------------------------------------------------------------------------


def headers_of(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


def signed_for(headers: dict[str, str], query: dict[str, list[str]]) -> str:
    """The service a SigV4 request is signed for ("" if unsigned)."""
    credential = query.get("X-Amz-Credential", [""])[0]
    match = _SIGNED_FOR.search(headers.get("authorization", "")) or _SIGNED_FOR.search(f"Credential={credential}")
    return match.group(1) if match else ""


def created_bucket(path: str, query: dict[str, list[str]], host: str) -> str | None:
    """The bucket a ``PUT`` creates (CreateBucket), or None for any other S3 call."""
    if any(not key.startswith("X-Amz-") for key in query):
        return None  # ?versioning, ?tagging, ...: a subresource of an existing bucket
    name = host.rsplit(":", 1)[0].lower()
    if name.endswith(".localhost") and path in ("", "/"):
        return name[: -len(".localhost")].removesuffix(".s3")
    parts = path.strip("/").split("/")
    return parts[0] if len(parts) == 1 and parts[0] and path.count("/") <= 2 else None


def classify(scope: Scope, headers: dict[str, str]) -> tuple[str, str | None, str] | None:
    """(service, action, protocol) of a request some rule may apply to; the action is None while only the
    query protocol's body can tell it. None: pass it straight through."""
    method, path = scope.get("method", ""), scope.get("path", "")
    target = headers.get("x-amz-target", "")
    if target.startswith("AmazonSQS."):
        action = target[len("AmazonSQS.") :]
        return ("sqs", action, "json") if action in SQS_ACTIONS else None
    if path.startswith(ESM_PATH):
        rest = path[len(ESM_PATH) :].strip("/")
        if method == "POST" and not rest:
            return "lambda", "CreateEventSourceMapping", "rest"
        if method == "PUT" and rest and "/" not in rest:
            return "lambda", "UpdateEventSourceMapping", "rest"
        return None
    if method not in ("POST", "PUT", "GET") or not (headers.get("authorization") or scope.get("query_string")):
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    service = signed_for(headers, query)
    if service == "sqs":
        form = "x-www-form-urlencoded" in headers.get("content-type", "")
        return ("sqs", None, "query") if form or "Action" in query else None
    if service == "s3" and method == "PUT" and created_bucket(path, query, headers.get("host", "")) is not None:
        return "s3", "CreateBucket", "s3"
    return None


def _query_params(flat: dict[str, str], action: str) -> dict[str, Any]:
    """The query protocol's flat names in the JSON protocol's shape (the parts the rules read)."""
    params: dict[str, Any] = {k: v for k, v in flat.items() if "." not in k}
    attributes, index = {}, 1
    while f"Attribute.{index}.Name" in flat:
        attributes[flat[f"Attribute.{index}.Name"]] = flat.get(f"Attribute.{index}.Value", "")
        index += 1
    if attributes:
        params["Attributes"] = attributes
    if action.endswith("Batch"):  # SendMessageBatchRequestEntry.1.Id, ...
        entries: dict[int, dict[str, str]] = {}
        for key, value in flat.items():
            match = re.fullmatch(rf"{action}RequestEntry\.(\d+)\.(\w+)", key)
            if match:
                entries.setdefault(int(match.group(1)), {})[match.group(2)] = value
        params["Entries"] = [entries[n] for n in sorted(entries)]
    return params


def parse(
    scope: Scope, headers: dict[str, str], route: tuple[str, str | None, str], body: bytes
) -> rules.Request | None:
    """The rules' Request for this call, or None where the body cannot be read (MiniStack answers it then)."""
    service, action, protocol = route
    path = scope.get("path", "")
    try:
        if protocol == "query":
            flat = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            flat.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
            action = flat.get("Action", "")
            if action not in SQS_ACTIONS:
                return None
            params: dict[str, Any] = _query_params(flat, action)
        elif protocol == "s3":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            params = {"Bucket": created_bucket(path, query, headers.get("host", ""))}
        else:
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                return None
            if action == "UpdateEventSourceMapping":
                params["UUID"] = path[len(ESM_PATH) :].strip("/")
    except ValueError:
        return None
    if service == "sqs" and not params.get("QueueUrl") and path.strip("/"):
        params["QueueUrl"] = path  # the query protocol may address the queue by the request's path
    return rules.Request(service, str(action), params)


# --- answers ---------------------------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


def sqs_error(protocol: str, code: str, message: str, status: int = 400) -> Response:
    legacy = LEGACY_SQS_CODES.get(code, code)
    if protocol == "json":
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-query-error": f"{legacy};Sender",
            "x-amzn-requestid": _request_id(),
        }
        return status, headers, json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode()
    body = (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{_QUERY_NS}"><Error><Type>Sender</Type><Code>{escape(legacy)}'
        f"</Code><Message>{escape(message)}</Message><Detail/></Error><RequestId>{_request_id()}</RequestId>"
        "</ErrorResponse>"
    )
    return status, {"content-type": "text/xml"}, body.encode()


def refused(request: rules.Request, protocol: str, refusal: rules.Refusal) -> Response:
    if request.service == "sqs":
        return sqs_error(protocol, refusal.code, refusal.message, refusal.status)
    if request.service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{refusal.code}</Code>'
            f"<Message>{escape(refusal.message)}</Message>"
            f"<BucketName>{escape(str(request.params.get('Bucket', '')))}</BucketName>"
            f"<RequestId>{_request_id()}</RequestId></Error>"
        )
        return refusal.status, {"content-type": "application/xml"}, body.encode()
    headers = {"content-type": "application/json", "x-amzn-errortype": refusal.code, "x-amzn-requestid": _request_id()}
    return refusal.status, headers, json.dumps({"Type": "User", "message": refusal.message}).encode()


async def _reply(send: Send, response: Response) -> None:
    status, headers, body = response
    pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items() if k != "content-length"]
    pairs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": body})


# --- asking the server itself ----------------------------------------------------------------------


async def call(
    inner: App, scope: Scope, method: str, path: str, headers: dict[str, str], body: bytes, query: bytes = b""
) -> Response:
    """One request to the wrapped server, in this process; its whole answer."""
    keep = {k: v for k, v in headers_of(scope).items() if k in ("authorization", "host", "x-amz-date")}
    merged = {**keep, **headers, "content-length": str(len(body))}
    sub = {
        **scope,
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()],
    }
    delivered = False
    status, answer_headers, chunks = 500, {}, []

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def collect(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            answer_headers.update(headers_of(message))
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await inner(sub, receive, collect)
    return status, answer_headers, b"".join(chunks)


async def sqs_call(inner: App, scope: Scope, action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": f"AmazonSQS.{action}"}
    status, answer_headers, body = await call(inner, scope, "POST", "/", headers, json.dumps(params).encode())
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    if status != 200:  # the error as botocore would read it
        code = answer_headers.get("x-amzn-query-error", "").split(";")[0] or str(doc.get("__type", "")).split("#")[-1]
        doc = {"code": code, "message": doc.get("message", "")}
    return status, doc


async def facts(inner: App, scope: Scope, request: rules.Request) -> dict[str, dict[str, Any]]:
    """What the rules for this request need from the server, looked up with the caller's credentials."""
    found: dict[str, dict[str, Any]] = {}
    wanted = rules.needs(request)
    if "queue" in wanted:
        params = {"QueueUrl": request.params.get("QueueUrl", ""), "AttributeNames": ["All"]}
        status, doc = await sqs_call(inner, scope, "GetQueueAttributes", params)
        if status == 200:
            found["queue"] = doc.get("Attributes", {})
    if "mapping" in wanted:
        status, _, body = await call(inner, scope, "GET", f"{ESM_PATH}/{request.params['UUID']}", {}, b"")
        with contextlib.suppress(ValueError):
            found["mapping"] = json.loads(body) if status == 200 else {}
        if not found.get("mapping"):
            found.pop("mapping", None)
    return found


async def dead_letter_sources(inner: App, scope: Scope, request: rules.Request, protocol: str) -> Response:
    """ListDeadLetterSourceQueues, answered by ``dead_letter_sources.answer`` in the caller's protocol."""

    async def ask(action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return await sqs_call(inner, scope, action, params)

    status, doc = await sources.answer(ask, request.params)
    if status != 200:
        return sqs_error(protocol, str(doc.get("code") or "QueueDoesNotExist"), str(doc.get("message", "")), status)
    if protocol == "json":
        return 200, {"content-type": "application/x-amz-json-1.0"}, json.dumps(doc).encode()
    found = "".join(f"<QueueUrl>{escape(url)}</QueueUrl>" for url in doc["queueUrls"])
    found += f"<NextToken>{doc['NextToken']}</NextToken>" if "NextToken" in doc else ""
    name = "ListDeadLetterSourceQueues"
    body = (
        f'<?xml version="1.0"?><{name}Response xmlns="{_QUERY_NS}"><{name}Result>{found}</{name}Result>'
        f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata></{name}Response>"
    )
    return 200, {"content-type": "text/xml"}, body.encode()


# --- the layer ---------------------------------------------------------------------------------------


def _log(line: str) -> None:
    print(f"labkit validation: {line}", flush=True)


async def _validate(
    inner: App, scope: Scope, headers: dict[str, str], route: tuple[str, str | None, str], body: bytes
) -> Response | None:
    """AWS's answer where labkit gives it (a refusal, ListDeadLetterSourceQueues); None: MiniStack answers."""
    request = parse(scope, headers, route, body)
    if request is None:
        return None
    if request.action == "ListDeadLetterSourceQueues":
        query = scope.get("query_string", b"")
        answer = await call(inner, scope, scope["method"], scope["path"], headers, body, query)
        if answer[0] == 400 and b"InvalidAction" in answer[2]:  # MiniStack lacks it: answer it here
            _log("answered ListDeadLetterSourceQueues, which MiniStack lacks, from the queues' RedrivePolicy")
            answer = await dead_letter_sources(inner, scope, request, route[2])
        return answer
    request = rules.Request(request.service, request.action, request.params, await facts(inner, scope, request))
    broken = rules.refusal(request)
    if broken is None:
        return None
    rule, refusal = broken
    _log(f"refused {request.action} ({rule.name}: {refusal.code}), as AWS does: {rule.doc}")
    return refused(request, route[2], refusal)


def wrap(inner: App) -> App:
    """``inner`` (MiniStack's ASGI app) behind AWS's rules."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        headers = headers_of(scope)
        route = classify(scope, headers)
        if route is None:
            return await inner(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the caller went away
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            answer = await _validate(inner, scope, headers, route, body)
        except Exception as err:  # a fault here must not break the call: MiniStack answers it as before
            _log(f"could not check {route[1] or 'a query request'} ({err!r}); passed it on unchecked")
            answer = None
        if answer is not None:
            return await _reply(send, answer)
        await inner(scope, replay, send)

    return app


def main(argv: list[str]) -> None:
    """argv: ministack (the word marks the command line as the embedded backend's MiniStack)."""
    import ministack.app as ministack_app

    ministack_app.app = wrap(ministack_app.app)
    sys.argv = [sys.argv[0]]
    ministack_app.main()


if __name__ == "__main__":
    # Run by path, this file's folder is first on sys.path: take it off, so none of its neighbours
    # (aws.py, services.py, ...) can stand in for a module of the same name that MiniStack imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    main(sys.argv[1:])
