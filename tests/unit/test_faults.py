"""Fault injection: the embedded backend's lifecycle never lies about its state (issue 18).

Each test makes one fault happen for real (TIME_WAIT sockets on a port, a stale state file of another
LABKIT_HOME, a full disk while the state file is written, an uncreatable LABKIT_HOME, a lost state file,
a dead proxy, a failing doctor check, bad arguments and settings) and asserts what labkit does: the right
processes run or none do, and every problem is one line that says what to do.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time

import boto3
import psutil
import pytest

import labkit
from labkit import cli
from labkit.backends import embedded, servers
from labkit.backends.embedded import fillers_config, lifecycle
from labkit.errors import BackendFailedToStart

PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture
def home(monkeypatch, tmp_path):
    """A private LABKIT_HOME on free ports, with none of the caller's AWS or proxy settings."""
    for name in [*PROXY_VARIABLES, "NO_PROXY", "no_proxy", "LABKIT_REGION", "LABKIT_BACKEND"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    yield tmp_path / "home"
    embedded.stop()
    assert _running_in(tmp_path / "home") == []


def _running_in(folder) -> list[str]:
    """What runs in ``folder`` (every process labkit starts runs in its home): seen from outside labkit."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and process.cwd() == str(folder.resolve()):
                found.append(" ".join(process.cmdline())[-60:])
        except (psutil.Error, OSError):
            continue
    return found


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _time_wait_on(port: int) -> bool:
    return any(
        c.status == psutil.CONN_TIME_WAIT and c.laddr and c.laddr.port == port
        for c in psutil.net_connections(kind="tcp4")
    )


def _leave_time_wait(port: int) -> None:
    """A server on ``port`` closes an accepted connection first, as a stopped server does: TIME_WAIT stays."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        time.sleep(0.05)
        client.close()


# --- ports ------------------------------------------------------------------------------


def test_time_wait_sockets_do_not_make_a_port_look_taken(home, monkeypatch):
    port = servers.free_port()
    _leave_time_wait(port)
    assert _time_wait_on(port), "the test did not produce a TIME_WAIT socket"
    assert servers.port_is_free(port)
    monkeypatch.setenv("LABKIT_PORT", str(port))
    state, started = embedded.ensure_running()
    assert started and state.ministack.port == port and embedded.healthy(state)


def test_a_listening_program_still_makes_a_port_taken():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        assert not servers.port_is_free(blocker.getsockname()[1])


# --- identity -----------------------------------------------------------------------------


def test_a_stale_state_file_naming_another_homes_servers_never_stops_or_joins_them(home, monkeypatch, tmp_path):
    other = tmp_path / "other-home"
    monkeypatch.setenv("LABKIT_HOME", str(other))
    theirs, _ = embedded.ensure_running()
    try:
        raw = json.loads((other / embedded.STATE_FILE).read_text())
        monkeypatch.setenv("LABKIT_HOME", str(home))
        home.mkdir(parents=True)
        (home / embedded.STATE_FILE).write_text(json.dumps(raw))  # a copy: every server of it is live
        assert not any(embedded.is_alive(s) for s in embedded.read_state().processes)
        ours, started = embedded.ensure_running()
        assert started and ours.ministack.pid != theirs.ministack.pid
        # half-stale: their live MiniStack next to a moto that is gone
        raw["moto"]["pid"] = ours.moto.pid + 10**6
        (home / embedded.STATE_FILE).write_text(json.dumps(raw))
        embedded.stop()
        assert all(servers.answers(s.url + s.health_path, timeout=5) for s in theirs.servers)
        monkeypatch.setenv("LABKIT_HOME", str(other))
        assert embedded.healthy(theirs), "a stale state file of this home stopped another home's servers"
    finally:
        monkeypatch.setenv("LABKIT_HOME", str(other))
        embedded.stop()
        monkeypatch.setenv("LABKIT_HOME", str(home))


def test_a_reused_pid_is_not_ours(home):
    state, _ = embedded.ensure_running()
    moved = lifecycle.Server(**{**state.ministack.__dict__, "started": state.ministack.started - 5})
    assert embedded.is_alive(state.ministack) and not embedded.is_alive(moved)


# --- state file and failures while starting ----------------------------------------------------


def test_disk_full_while_writing_state_stops_everything_with_one_line(home, monkeypatch, capsys):
    def full(_state):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lifecycle, "_write_state", full)
    assert cli.main(["up"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "No space left on device" in line and "labkit up" in line and "nothing was left running" in line
    assert _running_in(home) == [], "servers were left running"
    assert embedded.read_state() is None


def test_the_state_file_is_replaced_whole_or_not_at_all(home, monkeypatch):
    state, _ = embedded.ensure_running()
    before = (home / embedded.STATE_FILE).read_text()

    def fsync_fails(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lifecycle.os, "fsync", fsync_fails)
    with pytest.raises(OSError):
        lifecycle._write_state(state)
    assert (home / embedded.STATE_FILE).read_text() == before
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(embedded.STATE_FILE)) == [embedded.STATE_FILE]


def test_a_failure_after_the_servers_started_stops_them(home, monkeypatch):
    def fillers_cannot_start(_state):
        raise BackendFailedToStart("the fillers could not start")

    monkeypatch.setattr(lifecycle, "_start_fillers", fillers_cannot_start)
    with pytest.raises(BackendFailedToStart, match="fillers could not start"):
        embedded.ensure_running()
    assert _running_in(home) == []


def test_an_uncreatable_home_is_one_line(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LABKIT_HOME", str(blocker / "home"))
    for command in (["up"], ["down"]):
        assert cli.main(command) == 1
        line = _one_line(capsys.readouterr().err)
        assert "LABKIT_HOME=" in line and "a folder you can write" in line


def test_down_finds_the_servers_when_the_state_file_is_gone(home):
    state, _ = embedded.ensure_running()
    (home / embedded.STATE_FILE).unlink()
    assert sorted(embedded.stop()) == ["fillers", "ministack", "moto"]
    assert not any(psutil.pid_exists(s.pid) and embedded.is_alive(s) for s in state.processes)
    assert _running_in(home) == []
    for server in state.servers:
        assert servers.port_is_free(server.port)


def test_up_replaces_servers_a_lost_state_file_left_running(home, monkeypatch):
    port = servers.free_port()
    monkeypatch.setenv("LABKIT_PORT", str(port))
    first, _ = embedded.ensure_running()
    (home / embedded.STATE_FILE).unlink()
    second, started = embedded.ensure_running()  # the orphans hold the port: they are this home's, so they go
    assert started and second.ministack.port == port
    assert not any(embedded.is_alive(s) for s in first.processes)


# --- proxies ---------------------------------------------------------------------------------


def test_a_dead_proxy_is_bypassed_for_every_local_call(home, monkeypatch, capsys):
    dead = servers.free_port()  # nothing listens there
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, f"http://user:s3cret@127.0.0.1:{dead}")
    state, started = embedded.ensure_running()  # through the proxy, no health check would ever answer
    assert started and embedded.healthy(state)
    lab = labkit.connect(show=False)
    try:
        assert "127.0.0.1" in os.environ["NO_PROXY"].split(",") and os.environ["no_proxy"] == os.environ["NO_PROXY"]
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="behind-a-proxy")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
        embedded.reset()
        # the fillers reach the servers through no proxy either: they publish the queue's metrics
        sqs.create_queue(QueueName="measured")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (fillers_config.read_status(home) or {}).get("metrics_published"):
            time.sleep(0.2)
        assert (fillers_config.read_status(home) or {}).get("metrics_published", 0) > 0
        for process in state.processes:
            assert "127.0.0.1" in psutil.Process(process.pid).environ()["NO_PROXY"].split(",")
        assert lab.backend == "embedded"
    finally:
        for name in os.environ.get("LABKIT_MANAGED_ENV", "").split(","):
            os.environ.pop(name, None)
    capsys.readouterr()
    assert cli.main(["env"]) == 0
    assert "export NO_PROXY=127.0.0.1,localhost,::1" in capsys.readouterr().out  # for the AWS CLI in a terminal
    cli.main(["doctor"])
    out = capsys.readouterr().out
    assert f"http_proxy=http://user:***@127.0.0.1:{dead}" in out and "bypass" in out
    assert "s3cret" not in out


# --- doctor and validation ------------------------------------------------------------------------


def test_doctor_exits_1_when_a_check_fails(home, monkeypatch, capsys):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        monkeypatch.setenv("LABKIT_PORT", str(blocker.getsockname()[1]))
        assert cli.main(["doctor"]) == 1
    assert "✗ port" in capsys.readouterr().out


def test_doctor_exits_0_when_every_check_passes(home, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_BACKEND", "embedded")
    assert cli.main(["doctor"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["classroom", "up", "--bind", "127.0.0.1", "--learners", "2", "--port", "70000"],
        ["classroom", "up", "--bind", "127.0.0.1", "--learners", "2", "--moto-port", "-1"],
        ["classroom", "up", "--bind", "127.0.0.1", "--learners", "2", "--port", "http"],
        ["classroom", "up", "--bind", "127.0.0.1", "--learners", "zero"],
        ["cleanup", "--region", "nonsense", "--dry-run"],
        ["up", "--no-such-flag"],
    ],
)
def test_bad_arguments_are_one_line_before_anything_starts(home, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("labkit") and "--help" in line
    assert not home.exists() or not any(home.rglob("*.json"))


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LABKIT_REGION", "nonsense", "not an AWS region"),
        ("AWS_REGION", "us-east-99", "not an AWS region"),
        ("LABKIT_BACKEND", "moto", "unknown backend"),
        ("LABKIT_PORT", "70000", "out of range"),
        ("LABKIT_METRICS_SECONDS", "often", "not usable"),
        ("LABKIT_TARGET_PERIOD_SECONDS", "0", "not usable"),
    ],
)
def test_bad_settings_are_one_line_before_anything_starts(home, monkeypatch, variable, value, says, capsys):
    monkeypatch.setenv(variable, value)
    assert cli.main(["up"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert variable in line or variable == "LABKIT_BACKEND", line
    assert says in line
    assert _running_in(home) == [] and embedded.read_state() is None


@pytest.mark.parametrize("value", ["nonsense", "ftp://127.0.0.1:4566", "http://127.0.0.1:99999", "http://"])
def test_a_localstack_url_that_is_no_url_is_one_line(home, monkeypatch, value, capsys):
    monkeypatch.setenv("LABKIT_BACKEND", "localstack")
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", value)
    assert cli.main(["status"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "LABKIT_LOCALSTACK_URL" in line and "is not a URL LocalStack can answer at" in line, line


def test_a_bad_region_is_refused_by_connect(home, monkeypatch):
    from labkit.errors import InvalidSetting

    monkeypatch.setenv("LABKIT_REGION", "nonsense")
    with pytest.raises(InvalidSetting, match=r"LABKIT_REGION='nonsense' is not an AWS region"):
        labkit.connect(show=False)
    assert embedded.read_state() is None


# --- the classroom's room, the same lifecycle -------------------------------------------------------


def test_classroom_down_finds_the_room_when_its_state_file_is_gone(home, capsys):
    from labkit import classroom

    room, started = classroom.up("127.0.0.1", port=0, moto_port=0)
    assert started
    (home / "classroom" / "state.json").unlink()
    assert sorted(classroom.down()) == ["ministack", "moto"]
    assert _running_in(home / "classroom") == []
    assert not any(classroom.is_alive(s) for s in room.servers)


def test_a_room_whose_state_cannot_be_written_leaves_nothing_running(home, monkeypatch):
    from labkit import classroom
    from labkit.classroom import room as room_module

    def full(_room):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(room_module, "_write_room", full)
    with pytest.raises(classroom.ClassroomError) as err:
        classroom.up("127.0.0.1", port=0, moto_port=0)
    assert "No space left on device" in _one_line(str(err.value)) and "nothing was left running" in str(err.value)
    assert _running_in(home / "classroom") == []


def test_a_private_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """The roster and the room's state: a full disk mid-write keeps the old file and leaves no temporary one."""
    from labkit.classroom import roster

    path = tmp_path / "roster.csv"
    roster.write_private(path, "name,key\nana,1\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device"):
        roster.write_private(path, "name,key\nben,2\n")
    assert path.read_text() == "name,key\nana,1\n"
    assert [f.name for f in tmp_path.iterdir()] == ["roster.csv"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_embedded_home_never_stops_the_room_in_its_classroom_folder(home):
    from labkit import classroom

    room, _ = classroom.up("127.0.0.1", port=0, moto_port=0)
    try:
        embedded.ensure_running()
        embedded.stop()
        assert classroom.healthy(room)
    finally:
        classroom.down()


def test_the_finder_finds_a_process_of_a_folder_and_only_it(tmp_path):
    from labkit.backends import processes

    log = tmp_path / "sleeper.log"
    process = servers.spawn([sys.executable, "-c", "import time; time.sleep(30)"], {}, log, tmp_path)
    found = processes.owned_by(tmp_path)
    assert [(f.name, f.pid) for f in found] == [("sleeper", process.pid)]
    assert servers.stop_owned(tmp_path) == ["sleeper"]
    process.wait(timeout=5)
    assert processes.owned_by(tmp_path) == []
