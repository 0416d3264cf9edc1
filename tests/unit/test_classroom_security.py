"""A room no learner can break: a real room on 127.0.0.1 (never beyond loopback), learners ana and ben.

Ana's Lambda handler plays the attacker: it is told everything an attacker could hope to know (the
room's folder, ben's key id and queue URL, the servers' ports) and tries to read the admin token,
the roster and ben's data, and to reset the room. Each step must fail, and the room must be intact
afterwards. Then: a wrong secret is refused on both servers, and cross-account STS is refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import urllib.error
import urllib.request
import uuid
import zipfile

import botocore.config
import botocore.exceptions
import psutil
import pytest

from labkit import classroom, cli
from labkit.errors import BackendFailedToStart

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)"
)

ATTACK = r"""
import json, os, urllib.request, urllib.error
import boto3


def _try(step, fn):
    try:
        return {"step": step, "got": fn()}
    except Exception as err:
        return {"step": step, "refused": f"{type(err).__name__}: {err}"[:300]}


def _read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def _environs():
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for part in ("environ", "cmdline"):
                try:
                    found[f"{pid}/{part}"] = _read(f"/proc/{pid}/{part}")
                except OSError as err:
                    found[f"{pid}/{part}"] = f"unreadable: {err}"
    return found


def _post(url):
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return f"{answer.status} {answer.read()[:200]!r}"
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"HTTP {err.code}") from None


def handler(event, context):
    home, ministack, moto = event["home"], event["ministack"], event["moto"]
    steps = [
        _try("state.json", lambda: _read(os.path.join(home, "classroom", "state.json"))),
        _try("roster.csv", lambda: _read(os.path.join(home, "classroom", "roster.csv"))),
        _try("room folder", lambda: os.listdir(os.path.join(home, "classroom"))),
        _try("parent environ", lambda: _read(f"/proc/{os.getppid()}/environ")),
        _try("my environ", lambda: dict(os.environ)),
        _try("every process", _environs),
        _try("tmp", lambda: os.listdir("/tmp")),
    ]
    spoof = boto3.client("sqs", endpoint_url=ministack, aws_access_key_id=event["ben_key"],
                         aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    steps.append(_try("ben's queues with ben's key id", lambda: spoof.list_queues().get("QueueUrls", [])))
    own = boto3.client("sqs", endpoint_url=ministack)
    theirs = lambda: own.receive_message(QueueUrl=event["ben_queue"]).get("Messages", [])
    steps.append(_try("ben's queue by its URL", theirs))
    steps.append(_try("own queues", lambda: own.list_queues().get("QueueUrls", [])))
    ec2 = boto3.client("ec2", endpoint_url=moto, aws_access_key_id=event["ben_key"],
                       aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    steps.append(_try("ben's instances", lambda: ec2.describe_instances()["Reservations"]))
    sts = boto3.client("sts", endpoint_url=ministack)
    role = f"arn:aws:iam::{event['ben_key']}:role/anything"
    assume = lambda: sts.assume_role(RoleArn=role, RoleSessionName="xx")["Credentials"]["AccessKeyId"]
    steps.append(_try("assume a role in ben's account", assume))
    other = f"http://127.0.0.1:{event['other_port']}/"
    steps.append(_try("another service on the machine", lambda: urllib.request.urlopen(other, timeout=3).read()))
    steps.append(_try("reset ben", lambda: _post(f"{ministack}/_labkit/classroom/reset?account={event['ben_key']}")))
    steps.append(_try("reset MiniStack", lambda: _post(f"{ministack}/_ministack/reset")))
    steps.append(_try("reset moto", lambda: _post(f"{moto}/moto-api/reset")))
    return steps
"""


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    home = tmp_path_factory.mktemp("classroom-security")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(home))
        the_room, started = classroom.up("127.0.0.1", port=0, moto_port=0)
        assert started and the_room.sandboxed
        sandboxes: list[psutil.Process] = []
        try:
            roster, _ = classroom.ensure_roster(["ana", "ben"])
            yield the_room, {x.name: x for x in roster}, home
            sandboxes = psutil.Process(the_room.ministack.pid).children(recursive=True)
        finally:
            assert sorted(classroom.down()) == ["ministack", "moto"]
        _, alive = psutil.wait_procs(sandboxes, timeout=10)
        assert alive == [], f"left behind by `classroom down`: {alive}"


def _client(room_, learner, service):
    return classroom.learner_session(room_, learner)[1](service)


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("attack.py", source)
    return buffer.getvalue()


def test_a_learners_handler_cannot_read_the_token_the_roster_or_others_data_nor_reset_the_room(room):
    the_room, learners, home = room
    ana, ben = learners["ana"], learners["ben"]
    sqs_ben = _client(the_room, ben, "sqs")
    ben_queue = sqs_ben.create_queue(QueueName=f"ben-private-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs_ben.send_message(QueueUrl=ben_queue, MessageBody="ben's secret message")
    _client(the_room, ben, "ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    roster_before = classroom.roster_path().read_bytes()

    other = socket.create_server(("127.0.0.1", 0))
    lam = _client(the_room, ana, "lambda")
    name = f"attack-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ana.access_key_id}:role/lambda",
        Handler="attack.handler",
        Code={"ZipFile": _zip(ATTACK)},
        Timeout=60,
    )
    event = {
        "home": str(home),
        "ministack": f"http://127.0.0.1:{the_room.ministack.port}",
        "moto": f"http://127.0.0.1:{the_room.moto.port}",
        "ben_key": ben.access_key_id,
        "ben_queue": ben_queue,
        "other_port": other.getsockname()[1],  # stands for any local service that trusts 127.0.0.1
    }
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    steps = {s["step"]: s for s in payload}
    everything = json.dumps(payload)

    # Nothing the room keeps secret reached the handler, by any path it tried.
    assert the_room.token not in everything
    assert ben.secret_access_key not in everything and ben.access_key_id + "," not in everything
    for step in ("state.json", "roster.csv", "room folder"):
        assert "refused" in steps[step] and "No such file" in steps[step]["refused"], steps[step]
    # Its parent is the sandbox's own first process, not MiniStack: nothing of the server's settings.
    assert "GATEWAY_PORT" not in json.dumps(steps["parent environ"])
    # It sees only its own sandbox's processes, and no other function's folder in /tmp.
    assert all(int(k.split("/")[0]) < 10 for k in steps["every process"]["got"]), steps["every process"]
    assert server_pids(the_room).isdisjoint(int(k.split("/")[0]) for k in steps["every process"]["got"])
    assert all(not entry.startswith("ministack-lambda-") or name in entry for entry in steps["tmp"]["got"])
    # Its own environment is its learner's own: ana's key, nothing of the server's.
    environment = steps["my environ"]["got"]
    assert environment["AWS_ACCESS_KEY_ID"] == ana.access_key_id
    assert environment["AWS_SECRET_ACCESS_KEY"] == ana.secret_access_key
    assert not {"GATEWAY_PORT", "BIND_HOST", "LABKIT_HOME"} & set(environment)
    # Ben's data: his key id without his secret, his queue URL, his instances: all refused.
    assert "SignatureDoesNotMatch" in steps["ben's queues with ben's key id"]["refused"]
    assert "AccessDenied" in steps["ben's queue by its URL"]["refused"]
    # moto and every other port on the machine: not even reachable (the sandbox's network has only MiniStack).
    assert "Could not connect" in steps["ben's instances"]["refused"], steps["ben's instances"]
    assert "Connection refused" in steps["another service on the machine"]["refused"]
    other.close()
    assert "AccessDenied" in steps["assume a role in ben's account"]["refused"]
    # Its own account works: the handler is ana, with ana's authority.
    assert "got" in steps["own queues"], steps["own queues"]
    for step in ("reset ben", "reset MiniStack"):
        assert steps[step].get("refused") == "RuntimeError: HTTP 403", steps[step]
    assert "Connection refused" in steps["reset moto"]["refused"]  # moto is not reachable from the sandbox

    # The room is intact: ben's queue and message, his instance, the roster, both servers.
    assert classroom.healthy(the_room)
    assert classroom.roster_path().read_bytes() == roster_before
    got = sqs_ben.receive_message(QueueUrl=ben_queue, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in got] == ["ben's secret message"]
    assert _client(the_room, ben, "ec2").describe_instances()["Reservations"]
    lam.delete_function(FunctionName=name)


def server_pids(room_) -> set[int]:
    pids = set()
    for server in room_.servers:
        process = psutil.Process(server.pid)
        pids |= {process.pid, *(c.pid for c in process.children(recursive=True))}
    return pids


def test_the_token_is_in_no_servers_environment(room):
    the_room, _, _ = room
    for server in the_room.servers:
        process = psutil.Process(server.pid)
        for each in [process, *process.children(recursive=True)]:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, psutil.NoSuchProcess):
                with open(f"/proc/{each.pid}/environ", "rb") as f:
                    assert the_room.token.encode() not in f.read()
                assert the_room.token not in " ".join(each.cmdline())


@pytest.mark.parametrize("service", ["sqs", "s3", "sts", "dynamodb", "lambda", "cloudwatch", "ec2", "autoscaling"])
def test_a_wrong_secret_is_refused_on_both_servers(room, service):
    the_room, learners, _ = room
    impostor = classroom.Learner("x", learners["ben"].access_key_id, "wrong-secret")
    call = {
        "sqs": lambda c: c.list_queues(),
        "s3": lambda c: c.list_buckets(),
        "sts": lambda c: c.get_caller_identity(),
        "dynamodb": lambda c: c.list_tables(),
        "lambda": lambda c: c.list_functions(),
        "cloudwatch": lambda c: c.list_metrics(),
        "ec2": lambda c: c.describe_instances(),
        "autoscaling": lambda c: c.describe_auto_scaling_groups(),
    }[service]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(_client(the_room, impostor, service))
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    call(_client(the_room, learners["ben"], service))  # the right secret works


def test_a_key_id_not_on_the_roster_is_refused(room):
    the_room, _, _ = room
    stranger = classroom.Learner("x", classroom.new_key(set()), "anything")
    for service, call, code in (
        ("sqs", lambda c: c.list_queues(), "InvalidClientTokenId"),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
        ("ec2", lambda c: c.describe_vpcs(), "InvalidClientTokenId"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call(_client(the_room, stranger, service))
        assert err.value.response["Error"]["Code"] == code, service


def test_an_unsigned_api_call_is_refused_and_a_presigned_url_works(room):
    the_room, learners, _ = room
    url = f"http://127.0.0.1:{the_room.ministack.port}/"
    request = urllib.request.Request(
        url,
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ListQueues"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 403 and b"MissingAuthenticationToken" in err.value.read()
    session, _ = classroom.learner_session(the_room, learners["ana"])
    s3 = session.client(
        "s3",
        endpoint_url=the_room.local_url(the_room.ministack),
        config=botocore.config.Config(signature_version="s3v4"),
    )
    bucket = f"labkit-presign-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    link = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in link
    with urllib.request.urlopen(link, timeout=5) as answer:
        assert answer.read() == b"hello"
    signature = link.split("X-Amz-Signature=")[1][:64]
    forged = link.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    sigv2 = session.client("s3", endpoint_url=the_room.local_url(the_room.ministack)).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )
    assert "AWSAccessKeyId=" in sigv2  # Signature Version 2, which the room cannot check: refused
    # MiniStack reads x-amz-credential as well: a credential in any letter case is checked, never anonymous.
    lower = forged.replace("X-Amz-", "x-amz-")
    mixed = forged.replace("X-Amz-Credential", "X-AMZ-CREDENTIAL")
    for bad in (forged, sigv2, lower, mixed):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 403, bad


def test_assume_role_stays_in_the_callers_account(room):
    the_room, learners, _ = room
    ana, ben = learners["ana"], learners["ben"]
    sts = _client(the_room, ana, "sts")
    own = sts.assume_role(RoleArn=f"arn:aws:iam::{ana.access_key_id}:role/r", RoleSessionName="own")["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ben.access_key_id}:role/r", RoleSessionName="theirs")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    # The session from her own account works (its secret is checked too), and is ana.
    import boto3

    session = boto3.client(
        "sqs",
        endpoint_url=the_room.local_url(the_room.ministack),
        region_name="us-east-1",
        aws_access_key_id=own["AccessKeyId"],
        aws_secret_access_key=own["SecretAccessKey"],
        aws_session_token=own["SessionToken"],
    )
    session.list_queues()
    wrong = boto3.client(
        "sqs",
        endpoint_url=the_room.local_url(the_room.ministack),
        region_name="us-east-1",
        aws_access_key_id=own["AccessKeyId"],
        aws_secret_access_key="wrong",
        aws_session_token=own["SessionToken"],
    )
    with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
        wrong.list_queues()


def test_up_refuses_without_bubblewrap_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no bwrap on it
    assert cli.main(["classroom", "up", "--bind", "127.0.0.1", "--learners", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bubblewrap" in err and "--unsandboxed-lambda" in err
    assert classroom.read_room() is None


def test_the_server_itself_refuses_to_start_without_a_sandbox(tmp_path, monkeypatch):
    """Fail closed also where the labkit side is bypassed: the launcher probes bwrap before serving."""
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setattr(classroom.room, "check_sandbox", lambda sandbox: None)
    real = os.environ["PATH"]
    python_dir = str(classroom.room.servers.server_python().parent)
    monkeypatch.setenv("PATH", python_dir + os.pathsep + str(tmp_path / "empty-bin"))
    with pytest.raises(BackendFailedToStart, match=r"bubblewrap.*runs no learner code without it"):
        classroom.up("127.0.0.1", port=0, moto_port=0)
    monkeypatch.setenv("PATH", real)
    assert classroom.read_room() is None


def test_a_sandboxed_handler_stays_warm_between_invocations(room):
    """The sandbox must not cost the lesson its warm starts (lesson 03 counts them)."""
    the_room, learners, _ = room
    lam = _client(the_room, learners["ana"], "lambda")
    name = f"warm-{uuid.uuid4().hex[:8]}"
    source = "n = 0\ndef handler(event, context):\n    global n\n    n += 1\n    return n\n"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{learners['ana'].access_key_id}:role/lambda",
        Handler="attack.handler",
        Code={"ZipFile": _zip(source)},
    )
    counts = [json.loads(lam.invoke(FunctionName=name)["Payload"].read()) for _ in range(3)]
    assert counts == [1, 2, 3]  # one execution environment, reused
    lam.delete_function(FunctionName=name)
