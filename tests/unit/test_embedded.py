"""The embedded daemon's lifecycle, with the real servers on free ports in a private home."""

import json
import os
import signal
import socket
import sys
import time

import boto3
import dns.exception
import dns.message
import dns.query
import dns.rcode
import psutil
import pytest

import labkit
from labkit.backends import embedded, servers
from labkit.errors import BackendFailedToStart, BackendNotInstalled, BackendNotRunning, PortInUse


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    monkeypatch.setenv("LABKIT_DNS_PORT", "0")
    yield tmp_path
    embedded.stop()


def test_start_then_reuse(home):
    state, started = embedded.ensure_running()
    assert started and embedded.healthy(state)
    again, started_again = embedded.ensure_running()
    assert not started_again
    assert (again.ministack.pid, again.moto.pid) == (state.ministack.pid, state.moto.pid)
    assert state.ministack.version == "1.5.33" and state.moto.version == "5.2.5"


def test_every_listener_is_on_loopback(home):
    state, _ = embedded.ensure_running()
    listening, udp = [], []
    for server in state.servers:
        for conn in psutil.Process(server.pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                listening.append(conn.laddr)
            elif conn.type == socket.SOCK_DGRAM and not conn.raddr:
                udp.append(conn.laddr)
    assert {addr.port for addr in listening} >= {state.ministack.port, state.moto.port, state.dns_port}
    assert {addr.ip for addr in listening} == {"127.0.0.1"}
    assert state.dns_port in {addr.port for addr in udp}  # the DNS server, on UDP too
    assert {addr.ip for addr in udp} <= {"127.0.0.1"}


def test_stale_state_file_is_replaced(home):
    finished = psutil.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = {"pid": finished.pid, "port": 1, "version": "0"}
    state = {"ministack": {"name": "ministack", **dead}, "moto": {"name": "moto", **dead}, "started_at": 0}
    (home / embedded.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(BackendNotRunning, match="labkit up"):
        embedded.require_running()
    state, started = embedded.ensure_running()
    assert started and embedded.healthy(state)


def test_corrupt_state_file_is_replaced(home):
    (home / embedded.STATE_FILE).write_text("{not json")
    _, started = embedded.ensure_running()
    assert started


def test_crashed_server_is_reported_then_replaced(home):
    state, _ = embedded.ensure_running()
    os.kill(state.ministack.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while embedded.is_alive(state.ministack) and time.monotonic() < deadline:
        servers.reap(state.ministack.pid)
        time.sleep(0.02)
    with pytest.raises(BackendNotRunning, match=r"ministack stopped.*labkit up"):
        embedded.require_running()
    new, started = embedded.ensure_running()
    assert started and new.ministack.pid != state.ministack.pid
    assert not psutil.pid_exists(state.moto.pid) or not embedded.is_alive(state.moto)  # the survivor was stopped


def test_port_taken_by_another_program(home, monkeypatch):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        monkeypatch.setenv("LABKIT_PORT", str(port))
        with pytest.raises(PortInUse) as err:
            embedded.ensure_running()
    assert f"port {port}" in str(err.value) and "LABKIT_PORT=0" in str(err.value)
    assert embedded.read_state() is None


def test_stop_stops_everything(home):
    state, _ = embedded.ensure_running()
    question = dns.message.make_query("example.com", "A")
    assert dns.query.udp(question, "127.0.0.1", port=state.dns_port, timeout=5).rcode() == dns.rcode.REFUSED
    assert sorted(embedded.stop()) == ["fillers", "ministack", "moto"]
    with pytest.raises(dns.exception.Timeout):  # the DNS server went with MiniStack
        dns.query.udp(question, "127.0.0.1", port=state.dns_port, timeout=1)
    assert not any(embedded.is_alive(s) for s in state.processes)
    assert embedded.read_state() is None
    assert embedded.stop() == []


def test_reset_wipes_both_servers(home):
    state, _ = embedded.ensure_running()
    env = {**embedded.endpoints(state), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    session = boto3.session.Session(region_name="us-east-1")
    sqs = session.client(
        "sqs", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test", aws_secret_access_key="test"
    )
    ec2 = session.client(
        "ec2", endpoint_url=env["AWS_ENDPOINT_URL_EC2"], aws_access_key_id="test", aws_secret_access_key="test"
    )
    sqs.create_queue(QueueName="reset-me")
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)
    route53 = session.client(
        "route53", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test", aws_secret_access_key="test"
    )
    route53.create_hosted_zone(Name="reset-me.example.com", CallerReference="reset-me")
    question = dns.message.make_query("reset-me.example.com", "SOA")
    assert dns.query.udp(question, "127.0.0.1", port=state.dns_port, timeout=5).rcode() == dns.rcode.NOERROR
    embedded.reset()
    assert dns.query.udp(question, "127.0.0.1", port=state.dns_port, timeout=5).rcode() == dns.rcode.REFUSED
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert ec2.describe_volumes()["Volumes"] == []


def test_not_installed(home, monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_SERVER_PYTHON", str(tmp_path / "nowhere" / "python"))
    with pytest.raises(BackendNotInstalled, match="make setup"):
        embedded.ensure_running()


def test_server_that_exits_while_starting(home, monkeypatch, tmp_path):
    bindir = tmp_path / "fake-venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "python").symlink_to(sys.executable)
    launchers = {"ministack": tmp_path / "ministack_fixes.py", "moto": tmp_path / "moto_fixes.py"}
    launchers["ministack"].write_text("print('boom: cannot start')\nraise SystemExit(3)\n")
    launchers["moto"].write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setattr(embedded.lifecycle, "LAUNCHERS", launchers)
    monkeypatch.setenv("LABKIT_SERVER_PYTHON", str(bindir / "python"))
    with pytest.raises(BackendFailedToStart, match=r"ministack exited while starting.*boom: cannot start"):
        embedded.ensure_running()
    assert embedded.read_state() is None


def test_connect_routes_plain_boto3(home, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "LABKIT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-profile")
    lab = labkit.connect(show=False, lesson="unit")
    state = embedded.read_state()
    try:
        assert boto3.client("sqs").meta.endpoint_url == state.ministack.url
        assert boto3.client("ec2").meta.endpoint_url == state.moto.url
        assert boto3.client("glacier").meta.endpoint_url == state.moto.url
        assert boto3.client("route53").meta.endpoint_url == state.ministack.url
        assert "AWS_PROFILE" not in os.environ
        assert boto3.client("sqs").create_queue(QueueName="connected")["QueueUrl"].startswith(state.ministack.url)
        assert lab.tag_dict == {"labkit:lesson": "unit"}
        assert "MiniStack 1.5.33" in str(lab) and "moto 5.2.5" in str(lab)
    finally:
        for name in os.environ.get("LABKIT_MANAGED_ENV", "").split(","):
            os.environ.pop(name, None)
        os.environ.pop("LABKIT_MANAGED_ENV", None)
