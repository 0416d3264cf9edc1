"""Classroom mode: one real room server on 127.0.0.1 (never beyond loopback), two learners.

Each learner must see only their own resources on both servers (MiniStack: SQS, S3; moto: EC2),
a reset of one must leave the other intact, the admin calls must need the instructor's token,
and a learner's ``labkit.connect()`` must join the room with their key instead of starting servers.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import itertools
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import psutil
import pytest
from hub_helpers import free_port as _free_port
from hub_helpers import run_hub, sign_in_and_start
from hub_helpers import run_in_kernel as _run_in_kernel

import labkit
from labkit import classroom, cli
from labkit.backends import embedded
from labkit.errors import BackendNotRunning

AMI = "ami-12c6146b"  # one of moto's built-in images


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """A running room on loopback with learners ana and ben; stopped afterwards."""
    home = tmp_path_factory.mktemp("classroom-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(home))
        the_room, started = classroom.up("127.0.0.1", port=0, moto_port=0)
        assert started
        try:
            roster, added = classroom.ensure_roster(["ana", "ben"])
            assert [x.name for x in added] == ["ana", "ben"]
            yield the_room, {x.name: x for x in roster}
        finally:
            assert sorted(classroom.down()) == ["ministack", "moto"]


def _client(room_, learner, service):
    return classroom.learner_session(room_, learner)[1](service)


def _queues(room_, learner) -> set[str]:
    return {url.rsplit("/", 1)[-1] for url in _client(room_, learner, "sqs").list_queues().get("QueueUrls", [])}


def _buckets(room_, learner) -> set[str]:
    return {b["Name"] for b in _client(room_, learner, "s3").list_buckets()["Buckets"]}


def _instances(room_, learner) -> set[str]:
    pages = _client(room_, learner, "ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    return {i["InstanceId"] for r in pages for i in r["Instances"]}


def test_servers_listen_on_loopback_only(room):
    the_room, _ = room
    assert the_room.bind == "127.0.0.1"
    for server in the_room.servers:
        assert classroom.answers(the_room, server)
        assert the_room.local_url(server) == f"http://127.0.0.1:{server.port}"
        # Every socket the server listens on is its one port on the chosen address.
        process = psutil.Process(server.pid)
        listening = {
            (c.laddr.ip, c.laddr.port)
            for p in [process, *process.children(recursive=True)]
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {("127.0.0.1", server.port)}, listening


def test_keys_are_12_digits_distinct_and_random(room):
    _, learners = room
    keys = [x.access_key_id for x in learners.values()]
    assert all(re.fullmatch(r"\d{12}", k) for k in keys)
    assert len(set(keys)) == len(keys)
    assert all(len(x.secret_access_key) >= 32 for x in learners.values())
    many = set()
    for _ in range(300):
        many.add(classroom.new_key(many))
    assert len(many) == 300 and not many & {"000000000000", "123456789012"}
    ordered = sorted(int(k) for k in many)
    # Not sequential: random 12-digit ids out of 10^12 are far apart.
    assert min(b - a for a, b in itertools.pairwise(ordered)) > 1


def test_roster_and_key_files_are_private(room, tmp_path, capsys):
    assert stat.S_IMODE(classroom.roster_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(classroom.folder().stat().st_mode) == 0o700
    assert stat.S_IMODE((classroom.folder() / "state.json").stat().st_mode) == 0o600
    assert cli.main(["classroom", "key", "--all", "--out", str(tmp_path / "keys")]) == 0
    files = sorted(p.name for p in (tmp_path / "keys").iterdir())
    assert files == ["ana.env", "ben.env"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "keys").iterdir())


def test_key_prints_only_that_learners_settings(room, capsys):
    the_room, learners = room
    assert cli.main(["classroom", "key", "ana"]) == 0
    out = capsys.readouterr().out
    assert f"export AWS_ACCESS_KEY_ID={learners['ana'].access_key_id}" in out
    assert f"export LABKIT_CLASSROOM_URL=http://127.0.0.1:{the_room.ministack.port}" in out
    assert f"export AWS_ENDPOINT_URL_EC2=http://127.0.0.1:{the_room.moto.port}" in out
    assert learners["ben"].access_key_id not in out
    assert cli.main(["classroom", "key", "nobody"]) == 1
    assert "no learner 'nobody'" in capsys.readouterr().err


def test_up_refuses_without_bind(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    assert cli.main(["classroom", "up", "--learners", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--bind" in err and "0.0.0.0" in err
    assert classroom.read_room() is None and not classroom.roster_path().exists()
    with pytest.raises(classroom.ClassroomError, match="not an IPv4 address"):
        classroom.check_bind("localhost")


def test_learners_are_isolated_on_both_servers(room):
    the_room, learners = room
    ana, ben = learners["ana"], learners["ben"]
    for learner in (ana, ben):
        # The same queue name in both accounts: two different queues.
        _client(the_room, learner, "sqs").create_queue(QueueName="labkit-room-shared-name")
        _client(the_room, learner, "sqs").create_queue(QueueName=f"labkit-room-{learner.name}")
        _client(the_room, learner, "s3").create_bucket(Bucket=f"labkit-room-{learner.name}")
    _client(the_room, ana, "ec2").run_instances(ImageId=AMI, MinCount=2, MaxCount=2)
    _client(the_room, ben, "ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)

    assert _queues(the_room, ana) == {"labkit-room-shared-name", "labkit-room-ana"}
    assert _queues(the_room, ben) == {"labkit-room-shared-name", "labkit-room-ben"}
    assert _buckets(the_room, ana) == {"labkit-room-ana"}
    assert _buckets(the_room, ben) == {"labkit-room-ben"}
    assert len(_instances(the_room, ana)) == 2 and len(_instances(the_room, ben)) == 1
    # Each server reports the learner's key as the account (moto through the classroom wrapper).
    assert _client(the_room, ana, "sts").get_caller_identity()["Account"] == ana.access_key_id
    groups = _client(the_room, ben, "ec2").describe_security_groups()["SecurityGroups"]
    assert {g["OwnerId"] for g in groups} == {ben.access_key_id}


def test_learners_instances_never_run_on_the_room_and_their_console_says_so(room, tmp_path):
    the_room, learners = room
    ec2 = _client(the_room, learners["ana"], "ec2")
    proof = tmp_path / "ran"
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, UserData=f"#!/bin/sh\ntouch {proof}\n")
    instance_id = instance["Instances"][0]["InstanceId"]
    time.sleep(1.0)
    assert not proof.exists()  # the user data did not run on the instructor's machine
    output = ec2.get_console_output(InstanceId=instance_id)["Output"]
    assert output.startswith("labkit classroom: instances are records on the room's server")
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_learners_beanstalk_bundles_never_run_on_the_room_and_an_event_says_so(room):
    the_room, learners = room
    eb = _client(the_room, learners["ana"], "elasticbeanstalk")
    eb.create_application(ApplicationName="room-app")
    bundle = {"S3Bucket": "room-bundles", "S3Key": "v1.zip"}
    eb.create_application_version(ApplicationName="room-app", VersionLabel="v1", SourceBundle=bundle)
    eb.create_environment(ApplicationName="room-app", EnvironmentName="room-env", VersionLabel="v1")
    eb.get_waiter("environment_exists").wait(ApplicationName="room-app", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    env = eb.describe_environments(ApplicationName="room-app")["Environments"][0]
    assert (env["Status"], env["Health"], env.get("CNAME", "")) == ("Ready", "Grey", "")
    warned = eb.describe_events(EnvironmentName="room-env", Severity="WARN")["Events"]
    assert warned[0]["Message"].startswith("labkit classroom: environments are records on the room's server")
    eb.delete_application(ApplicationName="room-app", TerminateEnvByForce=True)


def test_reset_one_learner_leaves_the_other_intact(room, capsys):
    the_room, learners = room
    ana, ben = learners["ana"], learners["ben"]
    for learner in (ana, ben):
        _client(the_room, learner, "sqs").create_queue(QueueName=f"labkit-reset-{learner.name}")
        _client(the_room, learner, "s3").create_bucket(Bucket=f"labkit-reset-{learner.name}")
        _client(the_room, learner, "ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
    before_ben = (_queues(the_room, ben), _buckets(the_room, ben), _instances(the_room, ben))
    assert _queues(the_room, ana) and _buckets(the_room, ana) and _instances(the_room, ana)

    assert cli.main(["classroom", "reset", "ana"]) == 0
    out = capsys.readouterr().out
    assert "reset ana" in out and "queues 0, buckets 0" in out and "instances 0" in out

    assert _queues(the_room, ana) == set() and _buckets(the_room, ana) == set() and _instances(the_room, ana) == set()
    assert (_queues(the_room, ben), _buckets(the_room, ben), _instances(the_room, ben)) == before_ben
    # Ana starts again from scratch: the same names work again.
    _client(the_room, ana, "sqs").create_queue(QueueName="labkit-room-ana")
    assert _queues(the_room, ana) == {"labkit-room-ana"}


def test_admin_calls_need_the_instructors_token(room):
    the_room, learners = room
    _client(the_room, learners["ben"], "sqs").create_queue(QueueName="labkit-room-ben")
    for server, path in (
        (the_room.ministack, "/_ministack/reset"),
        (the_room.ministack, classroom.RESET_PATH + f"?account={learners['ben'].access_key_id}"),
        (the_room.moto, "/moto-api/reset"),
        (the_room.moto, "/moto-api/data.json"),
        (the_room.moto, classroom.RESET_PATH + f"?account={learners['ben'].access_key_id}"),
    ):
        request = urllib.request.Request(the_room.local_url(server) + path, method="POST", data=b"")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == 403, path
    assert "labkit-room-ben" in _queues(the_room, learners["ben"])


def test_the_secret_is_checked(room):
    """A right key id with a wrong secret is refused (more in tests/unit/test_classroom_security.py)."""
    the_room, learners = room
    _client(the_room, learners["ben"], "sqs").create_queue(QueueName="labkit-room-ben")
    impostor = classroom.Learner("x", learners["ben"].access_key_id, "wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
        _queues(the_room, impostor)


def test_a_queue_url_does_not_reach_across_accounts(room):
    """As on AWS without a queue policy: another learner's queue URL is refused; so is their bucket."""
    the_room, learners = room
    url = _client(the_room, learners["ana"], "sqs").create_queue(QueueName="labkit-room-cross")["QueueUrl"]
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        _client(the_room, learners["ben"], "sqs").send_message(QueueUrl=url, MessageBody="from ben")
    got = _client(the_room, learners["ana"], "sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert got.get("Messages", []) == []
    _client(the_room, learners["ana"], "s3").create_bucket(Bucket=f"labkit-room-private-{uuid.uuid4().hex[:8]}")
    bucket = next(b for b in _buckets(the_room, learners["ana"]) if b.startswith("labkit-room-private-"))
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        _client(the_room, learners["ben"], "s3").list_objects_v2(Bucket=bucket)


@pytest.fixture
def learner_shell(room, tmp_path):
    """This process as ben's laptop: his classroom settings loaded, an empty LABKIT_HOME of its own."""
    the_room, learners = room
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
            del os.environ[name]
    os.environ.update(classroom.settings(the_room, learners["ben"]))
    # The room's secret settings, not the learner-facing AWS_* ones, are what connect() reads.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        os.environ.pop(name)
    os.environ["LABKIT_HOME"] = str(tmp_path / "laptop")
    yield the_room, learners["ben"]  # everything above is undone below, whatever the test changes
    os.environ.clear()
    os.environ.update(saved)
    boto3.DEFAULT_SESSION = None


def test_connect_joins_the_room_with_the_learners_key(learner_shell):
    the_room, ben = learner_shell
    _client(the_room, ben, "sqs").create_queue(QueueName="labkit-room-ben")
    _client(the_room, ben, "ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
    instances = _instances(the_room, ben)
    lab = labkit.connect(lesson="04-sqs-standard-vs-fifo", show=False)
    assert lab.backend == "embedded" and lab.is_emulator
    assert [r.endpoint for r in lab.routes] == [
        the_room.learner_url(the_room.ministack),
        the_room.learner_url(the_room.moto),
    ]
    assert os.environ["AWS_ACCESS_KEY_ID"] == ben.access_key_id
    assert ben.access_key_id not in str(lab)  # the key is the account id: never on screen
    assert "labkit-room-ben" in {u.rsplit("/", 1)[-1] for u in boto3.client("sqs").list_queues()["QueueUrls"]}
    reservations = boto3.client("ec2").describe_instances()["Reservations"]
    assert {i["InstanceId"] for r in reservations for i in r["Instances"]} >= instances
    assert boto3.client("sts").get_caller_identity()["Account"] == ben.access_key_id
    assert embedded.read_state() is None  # no local servers were started on the laptop


def test_a_learner_is_told_in_one_line_when_the_room_was_restarted_or_stopped(learner_shell, monkeypatch):
    """The room names its start (/_labkit/classroom/run): a learner's failed call after a restart says so."""
    import botocore.exceptions

    from labkit import session
    from labkit.backends import classroom_join
    from labkit.errors import BackendRestarted

    session.forget()
    try:
        labkit.connect(show=False)
        started = classroom_join.room_run()
        assert started and re.fullmatch(r"[0-9a-f]{16}", started) and classroom_join.room_run() == started
        gone = botocore.exceptions.ClientError(
            {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no queue"}}, "SendMessage"
        )
        assert session.explain(gone) is gone  # the same start of the room: the queue is really not there
        monkeypatch.setattr(classroom_join, "room_run", lambda: "0123456789abcdef")  # `classroom down` + `up`
        explained = session.explain(gone)
        assert isinstance(explained, BackendRestarted) and "run the lesson from the top" in str(explained)
        monkeypatch.setattr(classroom_join, "room_run", lambda: "")  # the room's server does not answer
        unreachable = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
        assert str(session.explain(unreachable)).startswith("the backend was stopped since this notebook connected")
    finally:
        session.forget()


def test_up_and_env_on_a_learners_laptop_use_the_room_and_start_nothing(learner_shell, capsys):
    the_room, ben = learner_shell
    assert cli.main(["up"]) == 0
    assert "the room's server at" in capsys.readouterr().out
    assert cli.main(["env"]) == 0
    exports = capsys.readouterr().out
    assert f"export AWS_ACCESS_KEY_ID={ben.access_key_id}" in exports
    assert f"AWS_ENDPOINT_URL={the_room.learner_url(the_room.ministack)}" in exports
    assert embedded.read_state() is None


def test_connect_says_when_the_room_does_not_answer(learner_shell):
    os.environ[classroom.ENV_URL] = "http://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(BackendNotRunning, match="does not answer"):
        labkit.connect(show=False)
    assert embedded.read_state() is None


def test_up_again_joins_the_running_room_and_keeps_the_keys(room, capsys):
    _, learners = room
    assert cli.main(["classroom", "up", "--bind", "127.0.0.1"]) == 0
    out = capsys.readouterr().out
    assert "already running" in out and "roster: 2 learners (0 new)" in out
    assert "this machine only" in out
    assert {x.name: x for x in classroom.read_roster()} == learners
    assert cli.main(["classroom", "up", "--bind", "0.0.0.0"]) == 1  # a different address: stop it first
    assert "already running on 127.0.0.1" in capsys.readouterr().err


def test_status_reports_the_room(room, capsys):
    assert cli.main(["classroom", "status", "--detail"]) == 0
    out = capsys.readouterr().out
    assert "ministack" in out and "moto" in out and "roster: 2 learners" in out
    assert "learners' Lambda code: in a bubblewrap sandbox" in out
    assert re.search(r"ben\s+queues \d+\s+buckets \d+", out)


def test_progress_has_one_row_per_learner_from_their_own_account(room, capsys):
    the_room, learners = room
    sqs = _client(the_room, learners["ana"], "sqs")
    url = sqs.create_queue(QueueName=f"my-first-queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    before = dict(os.environ)
    assert cli.main(["classroom", "progress", "--lesson", "00"]) == 0
    assert dict(os.environ) == before  # each learner's settings were undone
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert re.match(r"ana\s+1/1\s+✓", rows["ana"]), rows
    assert re.match(r"ben\s+0/1\s+·", rows["ben"]), rows


def test_a_pass_the_room_saw_outlives_clean_up_in_the_gradebook_csv(room, tmp_path, capsys):
    the_room, learners = room
    sqs = _client(the_room, learners["ana"], "sqs")
    url = sqs.create_queue(QueueName=f"my-first-queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert cli.main(["classroom", "progress", "--lesson", "00"]) == 0  # sees ana's pass live: recorded
    for queue in sqs.list_queues().get("QueueUrls", []):  # the lesson's Clean up cell
        sqs.delete_queue(QueueUrl=queue)
    target = tmp_path / "grades.csv"
    assert cli.main(["classroom", "progress", "--lesson", "00", "--csv", str(target)]) == 0
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    assert sorted(rows) == ["ana", "ben"]
    assert rows["ana"]["exercise"] == "00.1" and rows["ana"]["status_now"] == "not started"
    assert rows["ana"]["passed"] == "1" and rows["ana"]["first_passed"]
    assert rows["ben"]["passed"] == "0" and rows["ben"]["first_passed"] == ""
    assert rows["ana"]["checked_at"] and "learner,exercise,title,passed" in target.read_text().splitlines()[0]


def test_a_pass_a_learners_kernel_reports_reaches_the_gradebook_marked_as_theirs(room, tmp_path, monkeypatch):
    """Ben's check passes on his laptop and he cleans up before the room looks again: his kernel's report, signed
    with his key, is in the gradebook as the learner's word; an unsigned, forged or malformed report is refused."""
    from labkit.backends import classroom_join
    from labkit.course import records
    from labkit.course.checks import passed

    the_room, learners = room
    ben = learners["ben"]
    page = the_room.local_url(the_room.ministack) + classroom_join.PROGRESS_PATH
    unsigned = urllib.request.Request(page, data=b'{"exercise": "00.1"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 403
    with monkeypatch.context() as laptop:
        for name, value in classroom.settings(the_room, ben).items():
            laptop.setenv(name, value)
        laptop.setenv("LABKIT_HOME", str(tmp_path / "laptop"))
        made = records.record("00.1", "Your first queue", passed("a message is waiting"))  # reports it too
        assert made is not None and records.read() == [made]
        assert classroom_join.post_report({"exercise": "not an exercise", "title": "x", "passed_at": 1.0}) == 400
        laptop.setenv(classroom_join.ENV_SECRET, "not-bens-secret")
        assert classroom_join.post_report({"exercise": "00.2", "title": "forged", "passed_at": 1.0}) == 403
    target = tmp_path / "grades.csv"
    assert cli.main(["classroom", "progress", "ben", "--lesson", "00", "--csv", str(target)]) == 0
    (row,) = csv.DictReader(io.StringIO(target.read_text()))
    assert row["learner"] == "ben" and row["exercise"] == "00.1" and row["status_now"] == "not started"
    assert row["passed"] == "1" and row["seen_by"] == "learner's kernel"
    assert [r.exercise for r in classroom.reported_records(classroom.read_roster())] == ["00.1"]  # not 00.2
    assert cli.main(["classroom", "progress", "ben", "--lesson", "00"]) == 0  # imported once only
    assert [r.exercise for r in records.read("ben") if r.reported] == ["00.1"]


# ----------------------------------------------------------------------------- JupyterHub (optional)


@pytest.mark.slow
def test_jupyterhub_gives_each_kernel_its_learners_key(room, tmp_path):
    """docs/jupyterhub/jupyterhub_config.py on 127.0.0.1: ana signs in, her kernel is ana on the room."""
    bindir = Path(sys.executable).parent
    missing = importlib.util.find_spec("jupyterhub") is None or not all(
        (bindir / command).exists() for command in ("jupyterhub", "configurable-http-proxy")
    )
    if missing:  # requirements-dev.txt installs both: CI must not pass by skipping
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "jupyterhub or configurable-http-proxy is missing next to this Python: pip install -r requirements-dev.txt"
        )
    import requests

    the_room, learners = room
    for learner in learners.values():
        _client(the_room, learner, "sqs").create_queue(QueueName=f"labkit-hub-{learner.name}")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_CLASSROOM"))},
        "LABKIT_HUB_PASSWORD": "room-password",
        "LABKIT_HUB_USERS": "shared",  # also as root (tests/unit/test_hub_users.py tests one OS user per learner)
    }
    assert len(env["LABKIT_HUB_PASSWORD"]) >= 12
    config = Path(__file__).resolve().parents[2] / "docs" / "jupyterhub" / "jupyterhub_config.py"
    with run_hub(config, env, tmp_path) as base:
        try:
            refused = requests.Session()
            refused.get(f"{base}/hub/login", timeout=10)
            for name, password in (("mallory", "room-password"), ("ben", "not-the-room-password")):
                wrong = refused.post(
                    f"{base}/hub/login",
                    data={"username": name, "password": password, "_xsrf": refused.cookies.get("_xsrf")},
                    allow_redirects=False,
                    timeout=10,
                )
                assert wrong.status_code == 403, name  # not on the roster; on it, with a wrong password
            token = sign_in_and_start(base, "ana", "room-password", typed="Ana")  # any case: she is ana
            out = _run_in_kernel(
                base,
                "ana",
                token,
                "import os, boto3, labkit\n"
                "lab = labkit.connect(show=False)\n"
                "print('learner', os.environ['LABKIT_CLASSROOM_LEARNER'])\n"
                "print('account', boto3.client('sts').get_caller_identity()['Account'])\n"
                "urls = boto3.client('sqs').list_queues()['QueueUrls']\n"
                "print('queues', sorted(u.rsplit('/', 1)[-1] for u in urls))\n",
            )
            assert "learner ana\n" in out, out
            assert f"account {learners['ana'].access_key_id}\n" in out, out
            assert "labkit-hub-ana" in out and "labkit-hub-ben" not in out, out
            # Her JupyterLab shows her own copy of the lessons.
            auth = {"Authorization": f"token {token}"}
            listing = requests.get(f"{base}/user/ana/api/contents", headers=auth, timeout=10).json()
            assert "00-start-here.ipynb" in {item["name"] for item in listing["content"]}, listing
            hers = classroom.folder().parent / "hub-users" / "ana" / "notebooks"
            assert (hers / "00-start-here.ipynb").exists() and (hers / "student" / "00-start-here.ipynb").exists()
        finally:
            _kill_learner_servers(classroom.folder().parent / "hub-users")


def _kill_learner_servers(users: Path) -> None:
    """The hub stops its learners' servers when it exits in time; under load it may not. They run in
    sessions of their own (not the hub's process group), so find them by their working directory."""
    import psutil

    for proc in psutil.process_iter(["cwd"]):
        if (proc.info["cwd"] or "").startswith(str(users)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


HUB_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "jupyterhub" / "jupyterhub_config.py"


def _load_hub_config(monkeypatch, password: str | None):
    from traitlets.config import Config

    if password is None:
        monkeypatch.delenv("LABKIT_HUB_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("LABKIT_HUB_PASSWORD", password)
    monkeypatch.setenv("LABKIT_HUB_USERS", "shared")  # also as root: no learner OS users here
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(HUB_CONFIG), "__name__": "hub_config"}
    exec(compile(HUB_CONFIG.read_text(), str(HUB_CONFIG), "exec"), namespace)
    return config


@pytest.mark.parametrize("password", [None, "", "short-pass"])
def test_the_hub_config_refuses_an_empty_or_short_password(tmp_path, monkeypatch, password):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="at least 12 characters"):
        _load_hub_config(monkeypatch, password)


def test_the_hub_uses_a_shared_password_and_the_rosters_names_in_lower_case(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    classroom.ensure_roster(["Ana", "ben"])
    config = _load_hub_config(monkeypatch, "a-long-room-password")
    assert config.JupyterHub.authenticator_class == "shared-password"
    assert config.SharedPasswordAuthenticator.user_password == "a-long-room-password"
    assert config.Authenticator.allowed_users == {"ana", "ben"}
    assert classroom.find_learner("ana").name == "Ana"  # what the spawner looks up after JupyterHub lower-cased it
    assert classroom.ensure_roster(["ANA"])[1] == []  # the same learner, not a new one
    with pytest.raises(classroom.ClassroomError, match="twice"):
        classroom.learner_names(names="Chen,chen")


@pytest.mark.slow
def test_jupyterhub_itself_will_not_start_with_an_empty_password(tmp_path):
    bindir = Path(sys.executable).parent
    if not (bindir / "jupyterhub").exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "jupyterhub is missing: pip install -r requirements-dev.txt"
        )
    env = {**os.environ, "LABKIT_HOME": str(tmp_path), "LABKIT_HUB_PASSWORD": "", "LABKIT_HUB_PORT": str(_free_port())}
    done = subprocess.run(
        [str(bindir / "jupyterhub"), "-f", str(HUB_CONFIG)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "LABKIT_HUB_PASSWORD to a password of at least 12 characters" in done.stdout + done.stderr
