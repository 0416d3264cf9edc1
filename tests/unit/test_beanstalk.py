"""Elastic Beanstalk environments that serve (backends/embedded/beanstalk.py, beanstalk_hooks.py), in plain boto3.

Against private embedded servers (one set for the module): create → the bundle's app answers at the CNAME;
update → the new version answers at the same address; terminate → the port is closed and the process gone;
bad bundles → health Red and an ERROR event that says why; reset and `labkit down` end what serves.
"""

from __future__ import annotations

import io
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable

import boto3
import botocore.exceptions
import pytest

from labkit import config
from labkit.backends import embedded
from labkit.backends.embedded import beanstalk, instances

pytestmark = pytest.mark.slow
WAIT = {"Delay": 1, "MaxAttempts": 30}
STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.13"


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s")


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def app_saying(text: str) -> dict[str, str]:
    return {
        "application.py": (
            "def application(environ, start_response):\n"
            "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
            f"    return [{text!r}.encode()]\n"
        )
    }


@pytest.fixture
def app(module_lab):
    """A fresh application and bucket; ``version(label, files)`` uploads a bundle and registers it."""
    s3, eb = boto3.client("s3"), boto3.client("elasticbeanstalk")
    name = f"app-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    eb.create_application(ApplicationName=name)

    def version(label: str, files: dict[str, str]) -> None:
        s3.put_object(Bucket=name, Key=f"{label}.zip", Body=zipped(files))
        eb.create_application_version(
            ApplicationName=name, VersionLabel=label, SourceBundle={"S3Bucket": name, "S3Key": f"{label}.zip"}
        )

    yield name, version
    eb.delete_application(ApplicationName=name, TerminateEnvByForce=True)


def launch(app_name: str, env_name: str, label: str) -> dict:
    eb = boto3.client("elasticbeanstalk")
    eb.create_environment(
        ApplicationName=app_name, EnvironmentName=env_name, VersionLabel=label, SolutionStackName=STACK
    )
    eb.get_waiter("environment_exists").wait(ApplicationName=app_name, EnvironmentNames=[env_name], WaiterConfig=WAIT)
    return eb.describe_environments(ApplicationName=app_name, EnvironmentNames=[env_name])["Environments"][0]


def get(cname: str) -> str:
    with urllib.request.urlopen(f"http://{cname}/", timeout=5) as response:
        return response.read().decode()


def pid_of(env_id: str) -> int:
    return next(e["pid"] for e in beanstalk.serving(config.home()) if e["environment_id"] == env_id)


def messages(env_id: str, severity: str = "TRACE") -> list[str]:
    events = boto3.client("elasticbeanstalk").describe_events(EnvironmentId=env_id, Severity=severity)["Events"]
    return [e["Message"] for e in events]


def test_create_serves_update_replaces_terminate_ends(app):
    name, version = app
    version("v1", app_saying("hello from v1"))
    version("v2", app_saying("hello from v2"))
    eb = boto3.client("elasticbeanstalk")
    env = launch(name, "web-1", "v1")
    assert (env["Status"], env["Health"], env["VersionLabel"]) == ("Ready", "Green", "v1")
    assert env["EnvironmentId"].startswith("e-") and env["CNAME"].startswith("127.0.0.1:")
    assert get(env["CNAME"]) == "hello from v1"
    first = pid_of(env["EnvironmentId"])

    eb.update_environment(EnvironmentName="web-1", VersionLabel="v2")
    eb.get_waiter("environment_updated").wait(ApplicationName=name, EnvironmentNames=["web-1"], WaiterConfig=WAIT)
    again = eb.describe_environments(EnvironmentIds=[env["EnvironmentId"]])["Environments"][0]
    assert (again["CNAME"], again["VersionLabel"], again["Health"]) == (env["CNAME"], "v2", "Green")
    assert get(env["CNAME"]) == "hello from v2"
    second = pid_of(env["EnvironmentId"])
    env_dir = beanstalk.beanstalk_dir(config.home()) / env["EnvironmentId"]
    assert second != first and not instances.group_alive(first, env_dir)
    latest = messages(env["EnvironmentId"])  # newest first
    assert latest[0] == "Environment update completed successfully."
    assert latest[1].startswith("Version v2: a process") and f"serves it at http://{env['CNAME']}/" in latest[1]

    eb.terminate_environment(EnvironmentName="web-1")
    eb.get_waiter("environment_terminated").wait(ApplicationName=name, EnvironmentNames=["web-1"], WaiterConfig=WAIT)
    assert not instances.group_alive(second, env_dir)
    wait_for(lambda: not beanstalk.answers(int(env["CNAME"].split(":")[1])), 3)
    with pytest.raises(urllib.error.URLError):
        get(env["CNAME"])
    listed = eb.describe_environments(ApplicationName=name, IncludeDeleted=False)["Environments"]
    assert listed == []


def test_versions_are_described_and_kept_while_in_use(app):
    name, version = app
    version("v1", app_saying("one"))
    eb = boto3.client("elasticbeanstalk")
    described = eb.describe_application_versions(ApplicationName=name)["ApplicationVersions"]
    assert [(v["VersionLabel"], v["SourceBundle"]["S3Key"]) for v in described] == [("v1", "v1.zip")]
    with pytest.raises(botocore.exceptions.ClientError, match="already exists"):
        version("v1", app_saying("one"))
    launch(name, "inuse", "v1")
    with pytest.raises(botocore.exceptions.ClientError, match="runs it"):
        eb.delete_application_version(ApplicationName=name, VersionLabel="v1")
    eb.terminate_environment(EnvironmentName="inuse")
    eb.get_waiter("environment_terminated").wait(ApplicationName=name, EnvironmentNames=["inuse"], WaiterConfig=WAIT)
    eb.delete_application_version(ApplicationName=name, VersionLabel="v1", DeleteSourceBundle=True)
    assert eb.describe_application_versions(ApplicationName=name)["ApplicationVersions"] == []
    assert boto3.client("s3").list_objects_v2(Bucket=name).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"app.py": "x = 1\n"}, "has no application.py at its top level"),
        ({"site/application.py": "application = None\n"}, "inside the folder site/"),
        ({"application.py": "raise RuntimeError('broken at import')\n"}, "RuntimeError: broken at import"),
    ],
)
def test_a_bad_bundle_turns_the_environment_red_with_an_event(app, files, said):
    name, version = app
    version("bad", files)
    env = launch(name, "bad-1", "bad")
    assert (env["Status"], env["Health"]) == ("Ready", "Red")
    errors = messages(env["EnvironmentId"], "ERROR")
    assert errors[0] == "Create environment operation is complete, but with errors."
    assert said in errors[1]
    assert all(e["environment_id"] != env["EnvironmentId"] for e in beanstalk.serving(config.home()))


def test_an_unknown_version_or_a_busy_environment_is_refused(app):
    name, version = app
    eb = boto3.client("elasticbeanstalk")
    with pytest.raises(botocore.exceptions.ClientError, match="No Application Version named 'nope'"):
        eb.create_environment(ApplicationName=name, EnvironmentName="nope", VersionLabel="nope")
    slow = {"application.py": "import time\ntime.sleep(3)\n" + app_saying("slow")["application.py"]}
    version("v1", slow)
    eb.create_environment(ApplicationName=name, EnvironmentName="busy", VersionLabel="v1")
    with pytest.raises(botocore.exceptions.ClientError, match="Must be Ready"):  # still Launching
        eb.update_environment(EnvironmentName="busy", VersionLabel="v1")


def test_status_lists_and_reset_ends_what_serves(app):
    name, version = app
    version("v1", app_saying("one"))
    env = launch(name, "reset", "v1")
    pid = pid_of(env["EnvironmentId"])
    line = next(line for line in embedded.Embedded().status().lines if env["EnvironmentId"] in line)
    assert f"pid {pid}" in line and env["CNAME"] in line
    env_dir = beanstalk.beanstalk_dir(config.home()) / env["EnvironmentId"]
    embedded.reset()
    assert not instances.group_alive(pid, env_dir)
    assert not env_dir.exists()


def test_unpack_keeps_files_inside_and_names_what_is_wrong(tmp_path):
    beanstalk.unpack(zipped({"application.py": "", "../../escape.txt": "x"}), tmp_path / "a")
    assert (tmp_path / "a/application.py").exists() and not (tmp_path / "escape.txt").exists()
    with pytest.raises(beanstalk.DeployFailed, match="not a ZIP file"):
        beanstalk.unpack(b"not a zip", tmp_path / "b")


def test_nothing_serves_after_labkit_down_even_if_moto_was_killed(embedded_lab):
    s3, eb = boto3.client("s3"), boto3.client("elasticbeanstalk")
    s3.create_bucket(Bucket="killed")
    s3.put_object(Bucket="killed", Key="v1.zip", Body=zipped(app_saying("one")))
    eb.create_application(ApplicationName="killed")
    eb.create_application_version(
        ApplicationName="killed", VersionLabel="v1", SourceBundle={"S3Bucket": "killed", "S3Key": "v1.zip"}
    )
    env = launch("killed", "killed", "v1")
    pid = pid_of(env["EnvironmentId"])
    moto = embedded.read_state().moto
    os.kill(moto.pid, signal.SIGKILL)
    wait_for(lambda: not embedded.is_alive(moto))
    env_dir = beanstalk.beanstalk_dir(config.home()) / env["EnvironmentId"]
    assert instances.group_alive(pid, env_dir)  # moto cannot end it now
    embedded.stop()  # labkit down
    assert not instances.group_alive(pid, env_dir)
    wait_for(lambda: not beanstalk.answers(int(env["CNAME"].split(":")[1])), 3)  # a killed process's socket closes
