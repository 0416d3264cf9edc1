"""The real-AWS guard, LocalStack detection and the CLI's one-line errors."""

import http.server
import json
import os
import threading

import boto3
import pytest
from moto import mock_aws

import labkit
from labkit import cli
from labkit.backends import aws, localstack
from labkit.errors import (
    BackendNotRunning,
    InvalidSetting,
    LocalStackAuthRequired,
    NoCredentials,
    RealAWSNotAllowed,
    UnknownBackend,
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No AWS settings from the machine, and whatever connect() sets is undone afterwards."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "LABKIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    before = dict(os.environ)
    yield
    for name in set(os.environ) - set(before):
        del os.environ[name]


def test_real_aws_refused_by_default(clean_env):
    with pytest.raises(RealAWSNotAllowed, match="LABKIT_ALLOW_REAL_AWS=1"):
        labkit.connect("aws", show=False)
    endpoints = {value for name, value in os.environ.items() if name.startswith("AWS_ENDPOINT_URL")}
    assert endpoints == {labkit.lab.CLOSED_ENDPOINT}  # refused, and failed closed: nothing reaches AWS


def test_real_aws_refused_even_when_chosen_by_environment(clean_env, monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "aws")
    monkeypatch.setenv("LABKIT_ALLOW_REAL_AWS", "true")  # only "1" counts
    with pytest.raises(RealAWSNotAllowed):
        labkit.connect(show=False)


def test_allowed_but_no_credentials(clean_env, monkeypatch):
    monkeypatch.setenv("LABKIT_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(NoCredentials, match="aws configure"):
        labkit.connect("aws", show=False)


def test_allowed_shows_masked_account_and_region(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with mock_aws():
        lab = labkit.connect("aws", allow_real_aws=True, lesson="00-start-here", show=False)
    text = str(lab) + lab._repr_html_()
    assert lab.backend == "aws" and lab.region == "eu-west-1"
    assert lab.account == "••••••••9012" and "123456789012" not in text
    assert "REAL AWS" in text and "labkit:lesson=00-start-here" in text


def test_switching_to_real_aws_removes_emulator_settings(clean_env, monkeypatch):
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:2",
            "LABKIT_MANAGED_ENV": "AWS_ENDPOINT_URL,AWS_ENDPOINT_URL_EC2",
        }
    )
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        labkit.connect("aws", allow_real_aws=True, show=False)
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_ENDPOINT_URL_EC2" not in os.environ


def test_mask_account():
    assert aws.mask_account("123456789012") == "••••••••9012"


class _FakeLocalStack(http.server.BaseHTTPRequestHandler):
    session_id = "5c1e0a4e-0000-4000-8000-000000000001"  # LocalStack's /_localstack/info: new at every start

    def do_GET(self):
        if self.path == "/_localstack/info":
            body = json.dumps({"version": "4.14.0", "session_id": type(self).session_id, "uptime": 12}).encode()
        else:
            body = json.dumps({"version": "4.14.0", "services": {"sqs": "running"}}).encode()
        self.send_response(200 if self.path in ("/_localstack/health", "/_localstack/info") else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_localstack(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeLocalStack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield url
    server.shutdown()
    server.server_close()


def test_localstack_answering(clean_env, monkeypatch, fake_localstack):
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", fake_localstack)
    lab = labkit.connect("localstack", show=False)
    assert "LocalStack 4.14.0" in str(lab)
    assert boto3.client("sqs").meta.endpoint_url == fake_localstack
    assert os.environ["AWS_ACCESS_KEY_ID"] == "test"


def test_a_restarted_or_stopped_localstack_is_said_in_one_line(clean_env, monkeypatch, fake_localstack):
    """LocalStack's session_id changes at every start: a cell's failed call then says so, not NonExistentQueue."""
    import botocore.exceptions

    from labkit import session
    from labkit.errors import BackendRestarted

    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", fake_localstack)
    monkeypatch.setattr(_FakeLocalStack, "session_id", "first-start")
    session.forget()
    try:
        labkit.connect("localstack", show=False)
        gone = botocore.exceptions.ClientError(
            {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no queue"}}, "SendMessage"
        )
        assert session.explain(gone) is gone  # same start: the queue is really not there
        monkeypatch.setattr(_FakeLocalStack, "session_id", "second-start")  # docker compose restart
        explained = session.explain(gone)
        assert isinstance(explained, BackendRestarted) and "run the lesson from the top" in str(explained)
        monkeypatch.setenv("LABKIT_LOCALSTACK_URL", "http://127.0.0.1:9")  # stopped: nothing answers
        unreachable = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
        assert str(session.explain(unreachable)).startswith("the backend was stopped since this notebook connected")
    finally:
        session.forget()


def test_localstack_not_running(clean_env, monkeypatch, unused_port):
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setattr(localstack, "container_exit_code", lambda: None)
    with pytest.raises(BackendNotRunning, match="docker compose up -d"):
        labkit.connect("localstack", show=False)


def test_localstack_asking_for_an_auth_token(clean_env, monkeypatch, unused_port):
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setattr(localstack, "container_exit_code", lambda: localstack.AUTH_EXIT_CODE)
    with pytest.raises(LocalStackAuthRequired, match="LOCALSTACK_AUTH_TOKEN"):
        labkit.connect("localstack", show=False)


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["env", "--backend", "nosuch"], "unknown backend 'nosuch'"),
        (["env"], "not running: start it with `labkit up`"),
        (["up", "--backend", "aws"], "real AWS is not allowed"),
    ],
)
def test_cli_errors_are_one_line(clean_env, capsys, argv, expected):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_cli_up_env_down(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    monkeypatch.setenv("LABKIT_DNS_PORT", "0")
    try:
        assert cli.main(["up"]) == 0
        assert cli.main(["env"]) == 0
        out = capsys.readouterr().out
        assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in out and "export AWS_ENDPOINT_URL_EC2=" in out
        assert cli.main(["status"]) == 0
        assert "answering" in capsys.readouterr().out
    finally:
        assert cli.main(["down"]) == 0
    assert "stopped ministack and moto" in capsys.readouterr().out


def test_switching_backends_drops_cached_credentials(clean_env, monkeypatch, fake_localstack):
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", fake_localstack)
    boto3.client("sqs", region_name="us-east-1")  # the default session now exists
    boto3.DEFAULT_SESSION._session.set_credentials("REAL", "SECRET")  # as if it had cached real keys
    labkit.connect("localstack", show=False)
    assert boto3.client("sqs").meta.endpoint_url == fake_localstack
    assert boto3.client("sqs")._request_signer._credentials.access_key == "test"


# ----------------------------------------------------------------------------- the guard fails closed

REAL_LOOKING = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}


def test_after_a_failed_connect_no_client_can_reach_aws(clean_env, monkeypatch, unused_port):
    """connect() raised (the backend is not there): the next cell's client still goes nowhere near AWS."""
    import botocore.exceptions

    os.environ.update(REAL_LOOKING)
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setattr(localstack, "container_exit_code", lambda: None)
    with pytest.raises(BackendNotRunning):
        labkit.connect("localstack", show=False)
    eb = boto3.client("elasticbeanstalk")
    assert eb.meta.endpoint_url == labkit.lab.CLOSED_ENDPOINT and "amazonaws" not in eb.meta.endpoint_url
    assert boto3.client("ec2").meta.endpoint_url == labkit.lab.CLOSED_ENDPOINT  # moto's services too
    assert eb._request_signer._credentials.access_key == "test"  # the caller's keys are not sent anywhere
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        eb.create_application(ApplicationName="labkit-00-never")


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("LABKIT_BACKEND", "aws", RealAWSNotAllowed),  # real AWS without LABKIT_ALLOW_REAL_AWS
        ("LABKIT_BACKEND", "embeded", UnknownBackend),  # a typo: no backend chosen at all
        ("LABKIT_REGION", "us-east-9", InvalidSetting),  # a region AWS does not have
    ],
)
def test_connect_refused_before_any_backend_answers_fails_closed(clean_env, monkeypatch, setting, value, error):
    """Lesson 00's first cells after a refused connect(): the client goes to a closed local port with dummy keys."""
    os.environ.update(REAL_LOOKING)
    monkeypatch.setenv(setting, value)
    with pytest.raises(error):
        labkit.connect(show=False)
    eb = boto3.client("elasticbeanstalk", region_name="us-east-1")
    assert eb.meta.endpoint_url == labkit.lab.CLOSED_ENDPOINT
    assert eb._request_signer._credentials.access_key == "test"


def test_the_embedded_backend_failing_to_start_fails_closed_too(clean_env, monkeypatch):
    from labkit.backends.embedded.backend import Embedded
    from labkit.errors import PortInUse

    def taken(self, **kwargs):
        raise PortInUse("port 4600 on 127.0.0.1 is taken by another program")

    monkeypatch.setattr(Embedded, "connect", taken)
    os.environ.update(REAL_LOOKING)
    with pytest.raises(PortInUse):
        labkit.connect(show=False)
    assert boto3.client("elasticbeanstalk").meta.endpoint_url == labkit.lab.CLOSED_ENDPOINT


def test_no_config_file_or_own_endpoint_can_send_an_emulator_kernel_to_aws(clean_env, tmp_path, fake_localstack,
                                                                         monkeypatch):  # fmt: skip
    config = tmp_path / "config"
    config.write_text("[default]\nignore_configured_endpoint_urls = true\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "https://sqs.us-east-1.amazonaws.com")  # the caller's own
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", fake_localstack)
    labkit.connect("localstack", show=False)
    for service in ("sqs", "s3", "elasticbeanstalk"):
        assert boto3.client(service).meta.endpoint_url == fake_localstack, service
    assert boto3.client("sqs")._request_signer._credentials.access_key == "test"


def test_progress_never_puts_the_callers_real_keys_back_on_an_emulator(clean_env, monkeypatch, fake_localstack):
    from labkit.course import progress

    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", fake_localstack)
    os.environ.update(REAL_LOOKING)
    down, header = progress._connect("localstack", allow_real_aws=False)
    assert down is None and "backend localstack" in header
    assert os.environ["AWS_ACCESS_KEY_ID"] == "test"
    os.environ["AWS_ACCESS_KEY_ID"] = "123456789012"  # an emulator account (a classroom learner's): kept
    progress._connect("localstack", allow_real_aws=False)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "123456789012"
