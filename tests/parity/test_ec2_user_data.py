"""Instances that run their user data, as lesson 01 relies on, asserted with plain boto3 (console output).

On EC2 cloud-init runs user data once, at the first boot, and the executable files in
``/var/lib/cloud/scripts/per-boot/`` at every boot
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html,
https://cloudinit.readthedocs.io/en/latest/reference/modules.html#scripts-per-boot); ``GetConsoleOutput``
shows what they printed. The instance reads its own id from the instance metadata service. Skipped, with
the probe's reason, where instances are records only (LocalStack).
"""

from __future__ import annotations

import time

import boto3
import pytest

WAIT = {"Delay": 1, "MaxAttempts": 120}

# Portable: the SDKs' own setting where it is set (labkit's instances), else EC2's address.
USER_DATA = """#!/bin/sh
echo "user data ran"
mkdir -p var/lib/cloud/scripts/per-boot 2>/dev/null || true
cat > var/lib/cloud/scripts/per-boot/hello <<'EOF'
#!/usr/bin/env python3
import os, urllib.request
base = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254/")
token = urllib.request.urlopen(urllib.request.Request(base + "latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})).read().decode()
me = urllib.request.urlopen(urllib.request.Request(base + "latest/meta-data/instance-id",
    headers={"X-aws-ec2-metadata-token": token})).read().decode()
print("per-boot hello from", me, flush=True)
EOF
chmod +x var/lib/cloud/scripts/per-boot/hello
./var/lib/cloud/scripts/per-boot/hello
"""


@pytest.fixture
def ec2(lab, requires):
    requires("instances-run")
    return boto3.client("ec2")


def _console_until(ec2, instance_id: str, text: str, count: int = 1, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    output = ""
    while time.monotonic() < deadline:
        output = ec2.get_console_output(InstanceId=instance_id).get("Output", "")
        if output.count(text) >= count:
            return output
        time.sleep(0.3)
    raise AssertionError(f"{text!r} x{count} not in the console output within {timeout_s} s: {output[-500:]!r}")


def test_user_data_once_per_boot_scripts_every_boot_and_its_own_id(ec2):
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=USER_DATA)[
        "Instances"
    ][0]["InstanceId"]
    try:
        _console_until(ec2, instance_id, f"per-boot hello from {instance_id}")
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
        ec2.start_instances(InstanceIds=[instance_id])
        output = _console_until(ec2, instance_id, f"per-boot hello from {instance_id}", count=2)
        assert output.count("user data ran") == 1
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


# Lesson 07: a group's instances run the launch template's user data (base64 in the template), and boto3
# inside finds credentials through the metadata service. On EC2 those come only from an instance profile
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html); labkit's metadata
# service hands every instance the learner's dummy keys, profile or not, as the lesson's box says.
GROUP_USER_DATA = """#!/bin/sh
python3 - <<'EOF'
import boto3
method = boto3.Session().get_credentials().method
print("credentials from", method, "account", boto3.client("sts").get_caller_identity()["Account"], flush=True)
EOF
sleep 600
"""


def test_a_groups_instances_run_the_templates_user_data_with_credentials_from_the_metadata_service(ec2):
    import base64
    import uuid

    autoscaling = boto3.client("autoscaling")
    name = f"parity-07-{uuid.uuid4().hex[:6]}"
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    user_data = base64.b64encode(GROUP_USER_DATA.encode()).decode()
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro", "UserData": user_data},
    )
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=2,
        AvailabilityZones=[zone],
    )
    try:
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        ids = [i["InstanceId"] for i in group["Instances"]]
        assert len(ids) == 2
        for instance_id in ids:
            output = _console_until(ec2, instance_id, "credentials from")
            assert "credentials from iam-role account" in output, output[-300:]
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateName=name)
