"""Soak: 10 × up → lesson 04's workload → reset → down, on the same three fixed ports every time.

Each cycle sends messages to a standard and a FIFO queue in batches; lesson 04's own consumer (read from
the notebook) receives and deletes every one in two threads; none may be lost (the tally reconciles
every message sent), and the FIFO group keeps its order; reset must leave no queue; down must leave no
process of the home and the MiniStack, moto and DNS (TCP and UDP) ports free for the next cycle's `up`
(which binds them within a second, while the last cycle's connections are still in TIME_WAIT).
About 45 s on two otherwise idle cores.
"""

from __future__ import annotations

import time

import boto3
import psutil
import pytest
from notebook_code import lesson_definitions

from labkit.aws.tally import Tally
from labkit.backends import embedded, servers
from labkit.backends import ports as ports_module
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import run_consumers

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


# Lesson 04's own consumer (receive one, work, record, delete), run by the lesson's run_consumers in 2 threads.
CONSUMER = lesson_definitions("04-sqs-standard-vs-fifo.ipynb", "consumer", work_time=lambda body: 0.005)["consumer"]


def _consume(sqs, url: str, tally: Tally) -> list[str]:
    events = run_consumers(CONSUMER, sqs, url, consumers=2, expected=MESSAGES, tally=tally, timeout=60)
    return [event.body for event in events]  # in the order they were processed


def _workload(state: embedded.State, cycle: int) -> None:
    sqs = boto3.session.Session(region_name="us-east-1").client(
        "sqs", endpoint_url=state.ministack.url, aws_access_key_id="test", aws_secret_access_key="test"
    )
    standard = sqs.create_queue(QueueName=f"soak-{cycle}")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName=f"soak-{cycle}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    sent = [f"c{cycle}-m{i:03d}" for i in range(MESSAGES)]
    tally = Tally()
    for start in range(0, MESSAGES, 10):
        batch = sent[start : start + 10]
        tally.sent(
            sqs.send_message_batch(
                QueueUrl=standard, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
            )
        )
        tally.sent(
            sqs.send_message_batch(
                QueueUrl=fifo,
                Entries=[{"Id": str(i), "MessageBody": b, "MessageGroupId": "g"} for i, b in enumerate(batch)],
            )
        )
    assert sorted(_consume(sqs, standard, tally)) == sent, f"cycle {cycle}: standard queue lost or duplicated messages"
    assert _consume(sqs, fifo, tally) == sent, f"cycle {cycle}: the FIFO group lost messages or their order"
    report = tally.reconcile(sqs, {"standard": standard, "fifo": fifo})
    assert report.missing == [] and report.accounted == 2 * MESSAGES, f"cycle {cycle}: {report}"
    embedded.reset()
    assert sqs.list_queues().get("QueueUrls", []) == [], f"cycle {cycle}: reset left queues"


@pytest.fixture
def fixed_ports(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    ports = servers.free_port(), servers.free_port(), servers.free_port()
    monkeypatch.setenv("LABKIT_PORT", str(ports[0]))
    monkeypatch.setenv("LABKIT_MOTO_PORT", str(ports[1]))
    monkeypatch.setenv("LABKIT_DNS_PORT", str(ports[2]))
    yield tmp_path / "home", ports
    embedded.stop()


def test_ten_cycles_of_up_work_reset_down_leave_nothing_behind(fixed_ports):
    home, ports = fixed_ports
    if len(set(ports)) != 3:
        pytest.fail("free_port gave the same port twice")
    t0 = time.monotonic()
    pids: set[int] = set()
    for cycle in range(CYCLES):
        state, started = embedded.ensure_running()
        assert started, f"cycle {cycle}: a backend was still running"
        assert (state.ministack.port, state.moto.port, state.dns_port) == ports
        pids |= {p.pid for p in state.processes}
        _workload(state, cycle)
        assert sorted(embedded.stop()) == ["fillers", "ministack", "moto"]
        assert _running_in(home) == [], f"cycle {cycle}: a process was left behind"
        assert embedded.read_state() is None
        assert all(servers.port_is_free(p) for p in ports), f"cycle {cycle}: a port is still held"
        assert ports_module.udp_port_is_free(ports[2]), f"cycle {cycle}: the DNS server's UDP port is still held"
    assert len(pids) == 3 * CYCLES  # every cycle ran fresh processes
    # a bound against a hang, not a benchmark: ~45 s on two idle cores, ~2 min on two shared by a busy test run
    assert time.monotonic() - t0 < 300
