"""Capability probes answer None where the backend can, and a one-line reason where it cannot."""

import os
import socket

import botocore.exceptions

from labkit.backends import probes


def test_embedded_backend_has_what_the_lessons_require(embedded_lab):
    assert probes.dynamodb_serves() is None
    assert probes.lambda_runs() is None
    assert probes.cloudfront_serves() is None
    assert probes.rds_serves_postgres() is None


def test_a_backend_that_does_not_answer_gets_a_reason(embedded_lab):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    # Set directly, not with monkeypatch: embedded_lab's teardown removes every variable connect() added,
    # while monkeypatch would put connect()'s value (a server about to stop) back afterwards.
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{closed}"
    reason = probes.dynamodb_serves()
    assert reason.startswith("DynamoDB cannot create tables here") and "\n" not in reason


def test_embedded_backend_has_what_the_parity_tests_probe_for(embedded_lab):
    finer = [
        "logs-filter-patterns",
        "route53-duplicate-records",
        "s3-presigned-checks",
        "s3-restore-in-progress",
        "s3-version-self-copy",
    ]
    assert {name: probes.PROBES[name]() for name in finer} == dict.fromkeys(finer)


def test_missing_probes_once_per_endpoint_and_explains_a_refused_setup(monkeypatch):
    calls = []

    def refused():
        calls.append(os.environ["AWS_ENDPOINT_URL"])
        raise botocore.exceptions.ClientError({"Error": {"Code": "InternalFailure"}}, "CreateBucket")

    monkeypatch.setitem(probes.PROBES, "fake", refused)
    monkeypatch.setattr(probes, "_results", {})
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert probes.missing("fake") == "the fake probe could not run here: InternalFailure"
    assert probes.missing("fake") == "the fake probe could not run here: InternalFailure"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    probes.missing("fake")
    assert calls == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
