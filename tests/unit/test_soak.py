"""Soak: 10 × up → a lesson-04-like workload → reset → down, on the same two fixed ports every time.

Each cycle sends messages to a standard and a FIFO queue in batches, receives and deletes every one,
and asserts none is lost (and the FIFO group's order); reset must leave no queue; down must leave no
process of the home and both ports free for the next cycle's `up` (which binds them within a second,
while the last cycle's connections are still in TIME_WAIT). About 45 s on two otherwise idle cores.
"""

from __future__ import annotations

import time

import boto3
import psutil
import pytest

from labkit.backends import embedded, servers

CYCLES = 10
MESSAGES = 40  # per queue and cycle


def _running_in(folder) -> list[int]:
    """The processes that run in ``folder`` (every process labkit starts runs in its home), seen from outside."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and process.cwd() == str(folder.resolve()):
                found.append(process.pid)
        except (psutil.Error, OSError):
            continue
    return found


def _drain(sqs, url: str, expected: int) -> list[str]:
    bodies: list[str] = []
    deadline = time.monotonic() + 20
    while len(bodies) < expected and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if got:
            bodies += [m["Body"] for m in got]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            )
    return bodies


def _workload(state: embedded.State, cycle: int) -> None:
    sqs = boto3.session.Session(region_name="us-east-1").client(
        "sqs", endpoint_url=state.ministack.url, aws_access_key_id="test", aws_secret_access_key="test"
    )
    standard = sqs.create_queue(QueueName=f"soak-{cycle}")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName=f"soak-{cycle}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    sent = [f"c{cycle}-m{i:03d}" for i in range(MESSAGES)]
    for start in range(0, MESSAGES, 10):
        batch = sent[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=standard, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
        )
        sqs.send_message_batch(
            QueueUrl=fifo,
            Entries=[{"Id": str(i), "MessageBody": b, "MessageGroupId": "g"} for i, b in enumerate(batch)],
        )
    got_standard = _drain(sqs, standard, MESSAGES)
    assert sorted(got_standard) == sent, f"cycle {cycle}: standard queue lost or duplicated messages"
    assert _drain(sqs, fifo, MESSAGES) == sent, f"cycle {cycle}: the FIFO group lost messages or their order"
    embedded.reset()
    assert sqs.list_queues().get("QueueUrls", []) == [], f"cycle {cycle}: reset left queues"


@pytest.fixture
def fixed_ports(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    ports = servers.free_port(), servers.free_port()
    monkeypatch.setenv("LABKIT_PORT", str(ports[0]))
    monkeypatch.setenv("LABKIT_MOTO_PORT", str(ports[1]))
    yield tmp_path / "home", ports
    embedded.stop()


def test_ten_cycles_of_up_work_reset_down_leave_nothing_behind(fixed_ports):
    home, ports = fixed_ports
    if len(set(ports)) != 2:
        pytest.fail("free_port gave the same port twice")
    t0 = time.monotonic()
    pids: set[int] = set()
    for cycle in range(CYCLES):
        state, started = embedded.ensure_running()
        assert started, f"cycle {cycle}: a backend was still running"
        assert (state.ministack.port, state.moto.port) == ports
        pids |= {p.pid for p in state.processes}
        _workload(state, cycle)
        assert sorted(embedded.stop()) == ["fillers", "ministack", "moto"]
        assert _running_in(home) == [], f"cycle {cycle}: a process was left behind"
        assert embedded.read_state() is None
        assert all(servers.port_is_free(p) for p in ports), f"cycle {cycle}: a port is still held"
    assert len(pids) == 3 * CYCLES  # every cycle ran fresh processes
    # a bound against a hang, not a benchmark: ~45 s on two idle cores, ~2 min on two shared by a busy test run
    assert time.monotonic() - t0 < 300
