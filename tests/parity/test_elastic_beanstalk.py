"""Elastic Beanstalk serves an uploaded source bundle, as lesson 01 relies on, asserted with plain boto3.

On AWS the Python platform runs the WSGI callable ``application`` of ``application.py``
(https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/create-deploy-python-container.html), from a ZIP
source bundle in S3 with no parent folder
(https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/applications-sourcebundle.html), at the environment's
``CNAME``, a subdomain of ``<region>.elasticbeanstalk.com``
(https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/customdomains.html).

Where the embedded backend differs, pinned here: the environment is one local process, and its ``CNAME`` (and
``EndpointURL``) is ``127.0.0.1:<port>``, the address that reaches it (a name under elasticbeanstalk.com does not
resolve offline). Skipped, with the probe's reason, where Elastic Beanstalk is missing (LocalStack's community
edition).
"""

from __future__ import annotations

import io
import re
import urllib.request
import zipfile

import boto3
import pytest


def bundle(text: str) -> bytes:
    source = (
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        f"    return [{text!r}.encode()]\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("application.py", source)
    return buffer.getvalue()


@pytest.fixture
def beanstalk(lab, requires, unique):
    requires("beanstalk")
    s3, eb = boto3.client("s3"), boto3.client("elasticbeanstalk")
    name = f"labkit-parity-{unique}"
    s3.create_bucket(Bucket=name)
    eb.create_application(ApplicationName=name)
    yield eb, name
    eb.delete_application(ApplicationName=name, TerminateEnvByForce=True)
    for key in ("v1.zip", "v2.zip"):
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


def test_the_bundle_answers_at_the_cname_and_a_new_version_replaces_it(lab, beanstalk):
    eb, name = beanstalk
    s3 = boto3.client("s3")
    for label in ("v1", "v2"):
        s3.put_object(Bucket=name, Key=f"{label}.zip", Body=bundle(f"answer from {label}"))
        eb.create_application_version(
            ApplicationName=name, VersionLabel=label, SourceBundle={"S3Bucket": name, "S3Key": f"{label}.zip"}
        )
    stacks = eb.list_available_solution_stacks()["SolutionStacks"]
    stack = next(s for s in stacks if "Amazon Linux 2023" in s and "running Python" in s)
    wait = {"Delay": 1, "MaxAttempts": 60} if lab.is_emulator else {"Delay": 20, "MaxAttempts": 60}
    env_name = "env-" + name.rsplit("-", 1)[1]  # 4 to 40 letters, digits and hyphens
    eb.create_environment(ApplicationName=name, EnvironmentName=env_name, VersionLabel="v1", SolutionStackName=stack)
    eb.get_waiter("environment_exists").wait(ApplicationName=name, EnvironmentNames=[env_name], WaiterConfig=wait)
    env = eb.describe_environments(ApplicationName=name, EnvironmentNames=[env_name])["Environments"][0]
    assert (env["Status"], env["VersionLabel"]) == ("Ready", "v1")
    if lab.is_emulator:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", env["CNAME"]) and env["EndpointURL"] == env["CNAME"]
    else:
        assert env["CNAME"].endswith(".elasticbeanstalk.com")
    with urllib.request.urlopen(f"http://{env['CNAME']}/", timeout=10) as response:
        assert response.read().decode() == "answer from v1"

    eb.update_environment(EnvironmentName=env_name, VersionLabel="v2")
    eb.get_waiter("environment_updated").wait(ApplicationName=name, EnvironmentNames=[env_name], WaiterConfig=wait)
    with urllib.request.urlopen(f"http://{env['CNAME']}/", timeout=10) as response:
        assert response.read().decode() == "answer from v2"
    events = eb.describe_events(ApplicationName=name, EnvironmentName=env_name)["Events"]
    assert events and all(e["EnvironmentName"] == env_name for e in events)
