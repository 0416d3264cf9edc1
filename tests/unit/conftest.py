"""Fixtures for unit tests: in-process moto, or the real embedded servers."""

import os
import shutil
import tempfile

import boto3
import pytest
from moto import mock_aws

import labkit
from labkit import session
from labkit.backends import embedded


@pytest.fixture
def moto_env(monkeypatch):
    """In-process moto with fake credentials, and no endpoint setting that would send calls elsewhere."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def embedded_lab(monkeypatch):
    """Private embedded servers on free ports, this process connected to them; all undone afterwards.

    Its home is straight under the temporary folder, not in pytest's (which only its owner may enter): as root,
    the RDS instances' PostgreSQL runs as `nobody`, who must pass through it."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
            monkeypatch.delenv(name)
    home = tempfile.mkdtemp(prefix="labkit-unit-")
    monkeypatch.setenv("LABKIT_HOME", home)
    monkeypatch.setenv("LABKIT_PORT", "0")
    monkeypatch.setenv("LABKIT_MOTO_PORT", "0")
    monkeypatch.setenv("LABKIT_DNS_PORT", "0")
    before = set(os.environ)
    session.forget()  # servers of its own: not a restart of whatever an earlier test connected to
    yield labkit.connect(show=False)
    for name in set(os.environ) - before:
        del os.environ[name]
    embedded.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory):
    """Private embedded servers for a whole test module (started once: instances and environments take a while)."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
            del os.environ[name]
    os.environ.update(
        {"LABKIT_HOME": str(tmp_path_factory.mktemp("home")), "LABKIT_PORT": "0", "LABKIT_MOTO_PORT": "0"}
    )
    yield labkit.connect(show=False)
    embedded.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def make_scaling_group():
    """``make_scaling_group(name, max_size)``: a one-instance Auto Scaling group from a launch template of the same
    name, on whichever backend the test uses (in-process moto or the embedded servers)."""
    return _make_scaling_group


def _make_scaling_group(name: str, max_size: int) -> None:
    ec2, autoscaling = boto3.client("ec2"), boto3.client("autoscaling")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = {"ImageId": image, "InstanceType": "t3.micro"}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=template)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=1,
        MaxSize=max_size,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
