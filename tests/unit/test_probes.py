"""Capability probes answer None where the backend can, and a one-line reason where it cannot."""

import os
import socket

from labkit import probes


def test_embedded_backend_has_what_the_lessons_require(embedded_lab):
    assert probes.dynamodb_serves() is None
    assert probes.lambda_runs() is None
    assert probes.cloudfront_serves() is None


def test_a_backend_that_does_not_answer_gets_a_reason(embedded_lab):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    # Set directly, not with monkeypatch: embedded_lab's teardown removes every variable connect() added,
    # while monkeypatch would put connect()'s value (a server about to stop) back afterwards.
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{closed}"
    reason = probes.dynamodb_serves()
    assert reason.startswith("DynamoDB cannot create tables here") and "\n" not in reason
