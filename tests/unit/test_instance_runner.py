"""The instance runner's parts without a server: cloud-config, paths, the sweep, the metadata answers."""

from __future__ import annotations

import json
import time

import pytest

from labkit.backends.embedded import imds, instances


def wait_for(condition, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s")


@pytest.fixture
def runner(tmp_path):
    made = instances.Runner(tmp_path, {"PATH": "/usr/bin:/bin"}, "http://127.0.0.1:9")
    yield made
    made.end_all()


def test_paths_stay_inside_the_instance(tmp_path):
    assert instances.under_root(tmp_path, "/etc/app.conf") == (tmp_path / "etc/app.conf").resolve()
    with pytest.raises(ValueError, match="outside the instance"):
        instances.under_root(tmp_path, "/../../etc/passwd")


def test_a_write_file_outside_the_root_is_refused_and_said(runner):
    runner.launch("i-escape", b"#cloud-config\nwrite_files:\n  - path: /../../escaped.txt\n    content: x\n")
    wait_for(lambda: "user data not run" in (runner.console("i-escape") or ""))
    assert "outside the instance" in runner.console("i-escape")
    assert not (runner.home / "escaped.txt").exists()


def test_cloud_config_that_is_not_a_mapping_is_said_not_run(runner):
    runner.launch("i-bad", b"#cloud-config\n- just\n- a list\n")
    wait_for(lambda: "user data not run" in (runner.console("i-bad") or ""))
    assert "must be a YAML mapping" in runner.console("i-bad")


def test_write_files_permissions_and_append(runner):
    user_data = (
        b"#cloud-config\nwrite_files:\n"
        b"  - {path: /opt/run.sh, content: \"#!/bin/sh\\necho hi\\n\", permissions: '0755'}\n"
        b"  - {path: /opt/log.txt, content: one}\n"
        b"  - {path: /opt/log.txt, content: two, append: true}\n"
        b"runcmd:\n  - ./opt/run.sh\n"
    )
    runner.launch("i-files", user_data)
    root = runner.dir("i-files") / "root"
    assert (root / "opt/log.txt").read_text() == "onetwo"
    assert (root / "opt/run.sh").stat().st_mode & 0o777 == 0o755
    wait_for(lambda: "hi" in runner.console("i-files").splitlines())


def test_user_data_that_is_neither_script_nor_cloud_config_is_not_run(runner):
    runner.launch("i-text", b"echo not a script\n")
    wait_for(lambda: "neither a #! script nor #cloud-config" in (runner.console("i-text") or ""))
    assert "not a script\n" not in runner.console("i-text").replace("echo not a script", "")


def test_sweep_ends_recorded_groups_without_the_runner_and_removes_files(tmp_path):
    runner = instances.Runner(tmp_path, {"PATH": "/usr/bin:/bin"})
    runner.launch("i-left", b"#!/bin/sh\nsleep 60 &\nsleep 60\n")
    record = instances.read_records(tmp_path)[0]
    instance_dir = instances.instances_dir(tmp_path) / "i-left"
    wait_for(lambda: len(instances.leftovers(tmp_path)) >= 2)
    assert instances.group_alive(record.pid, instance_dir)
    assert instances.sweep(tmp_path) == ["i-left"]  # as `labkit down` does after a SIGKILLed moto
    assert instances.leftovers(tmp_path) == []
    assert not instance_dir.exists()


def test_a_reused_pid_is_never_signalled(tmp_path):
    """A recorded pid whose processes are not the instance's (no marker in their environment) is left alone."""
    import os

    assert not instances.end_group(os.getpgid(0), tmp_path / "instances" / "i-none")
    assert not instances.group_alive(os.getpgid(0), tmp_path / "instances" / "i-none")


INFO = {
    "id": "i-1",
    "account": "000000000000",
    "region": "eu-west-1",
    "zone": "eu-west-1a",
    "type": "t3.micro",
    "image": "ami-1",
    "ip": "10.0.0.5",
    "launched": "2026-12-02T00:00:00Z",
    "role": "",
    "user_data": "#!/bin/sh\n",
    "tokens_required": False,
}


@pytest.fixture
def metadata():
    known = {"i-1": dict(INFO), "i-2": {**INFO, "id": "i-2", "user_data": "", "tokens_required": True}}
    return imds.Metadata(known.get, {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})


def _token(metadata, instance_id, ttl="60"):
    return metadata.answer(instance_id, "PUT", "latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})


def test_imds_v2_token_is_per_instance(metadata):
    status, token = _token(metadata, "i-1")
    assert status == 200
    headers = {"X-aws-ec2-metadata-token": token}
    assert metadata.answer("i-1", "GET", "latest/meta-data/instance-id", headers) == (200, "i-1")
    assert metadata.answer("i-2", "GET", "latest/meta-data/instance-id", headers)[0] == 401  # not its token
    assert metadata.answer("i-1", "GET", "latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "x"})[0] == 401
    assert _token(metadata, "i-1", "0")[0] == 400
    assert _token(metadata, "i-1", "21601")[0] == 400
    assert metadata.answer("i-1", "PUT", "latest/meta-data/instance-id", {})[0] == 405


def test_imds_v1_unless_tokens_are_required(metadata):
    assert metadata.answer("i-1", "GET", "latest/meta-data/placement/region", {}) == (200, "eu-west-1")
    assert metadata.answer("i-2", "GET", "latest/meta-data/placement/region", {})[0] == 401
    assert metadata.answer("i-9", "GET", "latest/meta-data/instance-id", {})[0] == 404  # no such running instance


def test_imds_credentials_document_user_data_and_listings(metadata):
    status, role = metadata.answer("i-1", "GET", "latest/meta-data/iam/security-credentials/", {})
    assert (status, role) == (200, "labkit-instance")
    doc = json.loads(metadata.answer("i-1", "GET", f"latest/meta-data/iam/security-credentials/{role}", {})[1])
    assert doc["Code"] == "Success" and doc["AccessKeyId"] == "test" and doc["Expiration"] > doc["LastUpdated"]
    identity = json.loads(metadata.answer("i-1", "GET", "latest/dynamic/instance-identity/document", {})[1])
    assert identity["instanceId"] == "i-1" and identity["region"] == "eu-west-1"
    assert metadata.answer("i-1", "GET", "latest/user-data", {}) == (200, "#!/bin/sh\n")
    _, token = _token(metadata, "i-2")
    assert metadata.answer("i-2", "GET", "latest/user-data", {"X-aws-ec2-metadata-token": token})[0] == 404
    listing = metadata.answer("i-1", "GET", "latest/meta-data", {})[1].splitlines()
    assert "instance-id" in listing and "placement/" in listing and "iam/" in listing
