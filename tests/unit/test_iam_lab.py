"""Lesson 11's enforcing server: a dedicated MiniStack that enforces IAM, on 127.0.0.1 only, stopped afterwards."""

from __future__ import annotations

import shutil
import socket
import time
import uuid

import boto3
import botocore.exceptions
import psutil
import pytest

from labkit.backends import embedded
from labkit.errors import BackendNotInstalled
from labkit.lessons.l11_iam_and_cloudwatch.enforcing import EnforcingServer

try:
    embedded.server_python()
except BackendNotInstalled as err:
    pytest.skip(f"embedded servers not installed: {err}", allow_module_level=True)


def _client(server: EnforcingServer, service: str, key_id: str = "test", secret: str = "test"):
    """A client of the enforcing server; the default keys are the account root's."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def _root(server: EnforcingServer, service: str):
    return _client(server, service)


def _read_only_s3(server: EnforcingServer, iam, name: str):
    """Create user ``name`` with AWS's ReadOnlyAccess policy and return an S3 client signed with its keys."""
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return _client(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    found = set()
    for proc in procs:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.add((conn.laddr.ip, conn.laddr.port))
    return found


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_listens_on_loopback_only_and_reports_auth():
    with EnforcingServer() as server:
        assert server.running and server.enforcing
        addresses = _listening_addresses(server.pid)
        assert ("127.0.0.1", server.port) in addresses
        assert {ip for ip, _ in addresses} == {"127.0.0.1"}, f"listening beyond loopback: {addresses}"


def test_enforces_a_read_only_policy():
    name = f"reader-{uuid.uuid4().hex[:8]}"
    with EnforcingServer() as server:
        iam, s3 = _root(server, "iam"), _root(server, "s3")
        s3.create_bucket(Bucket="labkit-unit-iam")
        reader = _read_only_s3(server, iam, name)
        assert [b["Name"] for b in reader.list_buckets()["Buckets"]] == ["labkit-unit-iam"]
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            reader.put_object(Bucket="labkit-unit-iam", Key="x", Body=b"x")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        # the root key still writes: the denial is the policy, not a broken server
        s3.put_object(Bucket="labkit-unit-iam", Key="x", Body=b"x")


def test_stopped_afterwards_with_nothing_left_running():
    with EnforcingServer() as server:
        pid, port = server.pid, server.port
        group = [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
        assert _port_answers(port)
    assert not server.running and server.process.poll() is not None
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in group):
        assert time.monotonic() < deadline, "a server process outlived stop()"
        time.sleep(0.05)
    assert not _port_answers(port)
    assert str(server) == "enforcing MiniStack: stopped"


def test_explicit_stop_is_idempotent_and_start_for_skips_real_aws():
    from labkit.lessons.l11_iam_and_cloudwatch import enforcing as iam_lab

    server = EnforcingServer().start()
    try:
        assert server.healthy()
    finally:
        assert server.stop() is True
    assert server.stop() is False
    assert server.health() is None

    class FakeAwsLab:
        is_emulator = False

    assert iam_lab.start_for(FakeAwsLab()) is None


def test_a_killed_parent_takes_the_server_with_it():
    """A kernel that is killed outright (no atexit) must not leave an enforcing server behind."""
    import subprocess
    import sys

    script = (
        "from labkit.lessons.l11_iam_and_cloudwatch.enforcing import EnforcingServer\n"
        "import sys, time\n"
        "s = EnforcingServer().start()\n"
        "print(s.pid, s.port, s._workdir, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid, port, workdir = parent.stdout.readline().split()
        pid, port = int(pid), int(port)
        assert _port_answers(port)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the enforcing server outlived its killed parent"
        time.sleep(0.05)
    assert not _port_answers(port)
    shutil.rmtree(workdir, ignore_errors=True)  # the killed parent could not tidy up its temp folder


def test_the_least_privilege_check_passes_only_for_the_right_policy(monkeypatch):
    import json

    from labkit.lessons.l11_iam_and_cloudwatch import checks as iam_cloudwatch

    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    name = f"reader-{uuid.uuid4().hex[:8]}"
    with EnforcingServer() as server:
        iam, s3 = _root(server, "iam"), _root(server, "s3")
        for bucket in ("labkit-unit-mine", "labkit-unit-other"):
            s3.create_bucket(Bucket=bucket)
        reader = _read_only_s3(server, iam, name)

        def allow(resource):
            doc = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": resource}],
            }
            iam.put_user_policy(UserName=name, PolicyName="write", PolicyDocument=json.dumps(doc))

        assert not iam_cloudwatch.writes_only_to(reader, "labkit-unit-mine", "labkit-unit-other")  # read-only
        allow("*")
        too_broad = iam_cloudwatch.writes_only_to(reader, "labkit-unit-mine", "labkit-unit-other")
        assert not too_broad and "too broad" in too_broad.message
        allow("arn:aws:s3:::labkit-unit-mine/*")
        assert iam_cloudwatch.writes_only_to(reader, "labkit-unit-mine", "labkit-unit-other")


def test_the_deny_check_passes_only_for_a_deny_that_leaves_the_rest_readable(monkeypatch):
    import json

    from labkit.lessons.l11_iam_and_cloudwatch import checks as iam_cloudwatch

    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    name, bucket = f"reader-{uuid.uuid4().hex[:8]}", "labkit-unit-payroll"
    with EnforcingServer() as server:
        iam, s3 = _root(server, "iam"), _root(server, "s3")
        s3.create_bucket(Bucket=bucket)
        for key in ("report.txt", "payroll/march.csv"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        reader = _read_only_s3(server, iam, name)

        def deny(resource):
            doc = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": resource}],
            }
            iam.put_user_policy(UserName=name, PolicyName="no-payroll", PolicyDocument=json.dumps(doc))

        nothing_yet = iam_cloudwatch.payroll_denied(reader, iam, name, bucket)
        assert not nothing_yet and "denies s3:GetObject" in nothing_yet.message
        deny(f"arn:aws:s3:::{bucket}/*")
        too_broad = iam_cloudwatch.payroll_denied(reader, iam, name, bucket)
        assert not too_broad and "can no longer read report.txt" in too_broad.message
        deny(f"arn:aws:s3:::{bucket}/payroll/*")
        assert iam_cloudwatch.payroll_denied(reader, iam, name, bucket)
