"""The embedded server's validating layer (backends/embedded/validating.py) and its rules, without a server.

A fake ASGI app stands in for MiniStack: it records what reaches it and answers SQS's JSON protocol
for the few calls the layer makes itself. The rules against a real server: tests/parity/test_rules.py.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest

from labkit.backends.embedded import rules, validating

SIGNED_SQS = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x"
SIGNED_S3 = SIGNED_SQS.replace("/sqs/", "/s3/")


def _scope(method="POST", path="/", headers=None, query=b""):
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
    }


class FakeServer:
    """Records each request; answers GetQueueAttributes/ListQueues from ``queues`` (url → attributes)."""

    def __init__(self, queues=None, lacks=()):
        self.queues, self.lacks, self.seen = queues or {}, set(lacks), []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = validating.headers_of(scope)
        action = headers.get("x-amz-target", "").removeprefix("AmazonSQS.")
        self.seen.append((scope["method"], scope["path"], action, body))
        params = json.loads(body or b"{}") if action else {}
        if action in self.lacks:
            status, doc = 400, {"__type": "InvalidAction", "message": f"The action {action} is not valid"}
        elif action == "ListQueues":
            status, doc = 200, {"QueueUrls": list(self.queues)}
        elif action == "GetQueueAttributes" and params["QueueUrl"] in self.queues:
            status, doc = 200, {"Attributes": self.queues[params["QueueUrl"]]}
        elif action == "GetQueueAttributes":
            status, doc = 400, {"__type": "QueueDoesNotExist", "message": "The specified queue does not exist."}
        else:
            status, doc = 200, {}
        out = json.dumps(doc).encode()
        extra = [(b"x-amzn-query-error", b"AWS.SimpleQueueService.NonExistentQueue;Sender")] if status == 400 else []
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": out})


def _run(app, scope, body: bytes):
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]  # two receive messages: the layer must join them
    answer: dict = {"body": b""}

    async def receive():
        part = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": part, "more_body": bool(chunks)}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            answer["body"] += message["body"]

    asyncio.run(app(scope, receive, send))
    return answer


def _sqs_json(action: str, params: dict):
    headers = {"x-amz-target": f"AmazonSQS.{action}", "content-type": "application/x-amz-json-1.0"}
    return _scope(headers={**headers, "authorization": SIGNED_SQS}), json.dumps(params).encode()


# ---------------------------------------------------------------- the table


def test_every_rule_has_a_unique_name_a_known_service_and_an_aws_page():
    names = [rule.name for rule in rules.RULES]
    assert len(names) == len(set(names))
    for rule in rules.RULES:
        assert rule.service in {"sqs", "s3", "lambda"}, rule.name
        assert rule.doc.startswith("https://docs.aws.amazon.com/"), rule.name
        assert rule.actions, rule.name


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"QueueName": "has space"}, "InvalidParameterValue"),
        ({"QueueName": "x" * 80}, None),
        ({"QueueName": "x.fifo"}, "InvalidParameterValue"),
        ({"QueueName": "x", "Attributes": {"FifoQueue": "TRUE"}}, "InvalidParameterValue"),
        ({"QueueName": "x" * 75 + ".fifo", "Attributes": {"FifoQueue": "true"}}, None),
        ({"QueueName": "q", "Attributes": {"VisibilityTimeout": "soon"}}, "InvalidAttributeValue"),
        ({"QueueName": "q", "Attributes": {"MaximumMessageSize": "1048576"}}, None),
        ({"QueueName": "q", "Attributes": {"RedrivePolicy": ""}}, None),
        ({"QueueName": "q", "Attributes": {"RedrivePolicy": "not json"}}, None),  # MiniStack's to refuse
    ],
)
def test_create_queue_rules(params, code):
    found = rules.refusal(rules.Request("sqs", "CreateQueue", params))
    assert (found[1].code if found else None) == code


def test_a_mapping_update_is_checked_as_it_would_be_after_the_update():
    stored = {
        "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q",
        "BatchSize": 50,
        "MaximumBatchingWindowInSeconds": 5,
    }
    update = rules.Request("lambda", "UpdateEventSourceMapping", {"UUID": "u", "MaximumBatchingWindowInSeconds": 0})
    assert rules.needs(update) == {"mapping"}
    found = rules.refusal(rules.Request(update.service, update.action, update.params, {"mapping": stored}))
    assert found and found[0].name == "lambda-sqs-batch-over-ten-needs-window"
    kinesis = {**stored, "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"}
    assert rules.refusal(rules.Request(update.service, update.action, update.params, {"mapping": kinesis})) is None


# ---------------------------------------------------------------- reading requests


def test_classify_reads_each_protocol():
    create_queue, get_attributes = _sqs_json("CreateQueue", {})[0], _sqs_json("GetQueueAttributes", {})[0]
    form = {"authorization": SIGNED_SQS, "content-type": "application/x-www-form-urlencoded"}
    cases = [
        (create_queue, ("sqs", "CreateQueue", "json")),
        (get_attributes, None),  # no rule for it: passed straight through
        (_scope(headers=form), ("sqs", None, "query")),
        (_scope("PUT", "/my-bucket", {"authorization": SIGNED_S3}), ("s3", "CreateBucket", "s3")),
        (
            _scope("PUT", "/", {"authorization": SIGNED_S3, "host": "my-bucket.localhost:4566"}),
            ("s3", "CreateBucket", "s3"),
        ),
        (_scope("PUT", "/my-bucket", {"authorization": SIGNED_S3}, b"versioning"), None),
        (_scope("PUT", "/my-bucket/key.txt", {"authorization": SIGNED_S3}), None),
        (_scope("POST", "/2015-03-31/event-source-mappings/"), ("lambda", "CreateEventSourceMapping", "rest")),
        (_scope("PUT", "/2015-03-31/event-source-mappings/abc"), ("lambda", "UpdateEventSourceMapping", "rest")),
        (_scope("GET", "/2015-03-31/event-source-mappings/abc"), None),
        (_scope("POST", "/", {"x-amz-target": "DynamoDB_20120810.PutItem"}), None),
    ]
    for scope, route in cases:
        assert validating.classify(scope, validating.headers_of(scope)) == route, scope


def test_query_protocol_is_read_in_the_json_shape():
    form = {
        "Action": "SendMessageBatch",
        "SendMessageBatchRequestEntry.1.Id": "a",
        "SendMessageBatchRequestEntry.1.MessageBody": "one",
        "SendMessageBatchRequestEntry.2.Id": "a",
        "SendMessageBatchRequestEntry.2.MessageAttribute.1.Name": "ignored",
    }
    scope = _scope(path="/000000000000/jobs.fifo", headers={"authorization": SIGNED_SQS})
    request = validating.parse(scope, {}, ("sqs", None, "query"), urlencode(form).encode())
    assert request.action == "SendMessageBatch"
    assert request.params["Entries"] == [{"Id": "a", "MessageBody": "one"}, {"Id": "a"}]
    assert request.params["QueueUrl"] == "/000000000000/jobs.fifo"
    attributes = {
        "Action": "CreateQueue",
        "QueueName": "q",
        "Attribute.1.Name": "DelaySeconds",
        "Attribute.1.Value": "9",
    }
    request = validating.parse(scope, {}, ("sqs", None, "query"), urlencode(attributes).encode())
    assert request.params["Attributes"] == {"DelaySeconds": "9"}


# ---------------------------------------------------------------- the layer


def test_a_refused_json_call_gets_awss_error_and_never_reaches_the_server():
    server = FakeServer()
    answer = _run(validating.wrap(server), *_sqs_json("SendMessageBatch", {"QueueUrl": "http://h/1/q", "Entries": []}))
    assert answer["status"] == 400
    assert answer["headers"]["x-amzn-query-error"] == "AWS.SimpleQueueService.EmptyBatchRequest;Sender"
    assert json.loads(answer["body"])["__type"].endswith("#EmptyBatchRequest")
    assert server.seen == []


def test_a_valid_call_reaches_the_server_with_its_whole_body():
    server = FakeServer()
    scope, body = _sqs_json("CreateQueue", {"QueueName": "fine-name", "Attributes": {"DelaySeconds": "5"}})
    assert _run(validating.wrap(server), scope, body)["status"] == 200
    assert server.seen == [("POST", "/", "CreateQueue", body)]


def test_a_refused_query_call_gets_awss_xml_error():
    scope = _scope(headers={"authorization": SIGNED_SQS, "content-type": "application/x-www-form-urlencoded"})
    body = urlencode({"Action": "CreateQueue", "QueueName": "no spaces allowed"}).encode()
    answer = _run(validating.wrap(FakeServer()), scope, body)
    assert answer["status"] == 400
    assert b"<Code>InvalidParameterValue</Code>" in answer["body"] and b"<Type>Sender</Type>" in answer["body"]


def test_rules_that_need_the_queue_ask_the_server_for_it():
    url = "http://h/000000000000/orders.fifo"
    server = FakeServer({url: {"ContentBasedDeduplication": "true"}})
    assert (
        _run(
            validating.wrap(server),
            *_sqs_json("SendMessage", {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"}),
        )["status"]
        == 200
    )
    assert [seen[2] for seen in server.seen] == ["GetQueueAttributes", "SendMessage"]
    server.queues[url] = {"ContentBasedDeduplication": "false"}
    refused = _run(
        validating.wrap(server), *_sqs_json("SendMessage", {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"})
    )
    assert refused["status"] == 400 and refused["headers"]["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_list_dead_letter_source_queues_is_answered_where_the_server_lacks_it():
    dlq, arn = "http://h/1/dlq", "arn:aws:sqs:us-east-1:1:dlq"
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    queues = {dlq: {"QueueArn": arn}, "http://h/1/a": {"RedrivePolicy": redrive}, "http://h/1/b": {}}
    answer = _run(
        validating.wrap(FakeServer(queues, lacks={"ListDeadLetterSourceQueues"})),
        *_sqs_json("ListDeadLetterSourceQueues", {"QueueUrl": dlq}),
    )
    assert answer["status"] == 200 and json.loads(answer["body"]) == {"queueUrls": ["http://h/1/a"]}
    missing = _run(
        validating.wrap(FakeServer(queues, lacks={"ListDeadLetterSourceQueues"})),
        *_sqs_json("ListDeadLetterSourceQueues", {"QueueUrl": "http://h/1/none"}),
    )
    assert missing["status"] == 400
    assert missing["headers"]["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    answered_by_server = _run(
        validating.wrap(FakeServer(queues)), *_sqs_json("ListDeadLetterSourceQueues", {"QueueUrl": dlq})
    )
    assert json.loads(answered_by_server["body"]) == {}  # the server's own answer, passed through


def test_a_fault_in_the_layer_passes_the_call_on_unchecked(capsys):
    seen = []

    async def flaky(scope, receive, send):
        action = validating.headers_of(scope).get("x-amz-target", "")
        if action.endswith("GetQueueAttributes"):  # the lookup the dedup rule needs
            raise RuntimeError("lookup failed")
        seen.append(action)
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    params = {"QueueUrl": "http://h/1/jobs.fifo", "MessageBody": "x", "MessageGroupId": "g"}
    assert _run(validating.wrap(flaky), *_sqs_json("SendMessage", params))["status"] == 200
    assert seen == ["AmazonSQS.SendMessage"]
    assert "passed it on unchecked" in capsys.readouterr().out
