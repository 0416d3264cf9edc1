"""Instances that run (labkit/backends/embedded/instances.py, instance_hooks.py, imds.py), in plain boto3.

Against private embedded servers (one set for the module): every lifecycle transition, per-boot scripts,
cloud-config, console output, the metadata service, EBS data, Auto Scaling 3 → 1 and the limit. The
issue's "Done when" scenario is ``test_an_instance_sends_its_own_id_until_stopped_and_resumes_per_boot``.
"""

from __future__ import annotations

import base64
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from labkit import config
from labkit.backends import embedded
from labkit.backends.embedded import instances

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout_s} s")


def image(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def launch(ec2, user_data: str = "", **extra) -> str:
    kwargs = {"UserData": user_data} if user_data else {}
    return ec2.run_instances(ImageId=image(ec2), MinCount=1, MaxCount=1, **kwargs, **extra)["Instances"][0][
        "InstanceId"
    ]


def console(ec2, instance_id: str) -> str:
    return ec2.get_console_output(InstanceId=instance_id).get("Output", "")  # boto3 decodes the base64


def record(instance_id: str) -> instances.Record | None:
    return next((r for r in instances.read_records(config.home()) if r.instance_id == instance_id), None)


def group_alive(instance_id: str, pid: int) -> bool:
    return instances.group_alive(pid, instances.instances_dir(config.home()) / instance_id)


def drain(sqs, queue_url: str) -> list[str]:
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


SENDER = """#!/bin/bash
echo "user data ran"
mkdir -p var/lib/cloud/scripts/per-boot
cat > var/lib/cloud/scripts/per-boot/sender <<'EOF'
#!/usr/bin/env python3
import time, urllib.request, boto3
base = __import__("os").environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
token = urllib.request.urlopen(urllib.request.Request(base + "latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})).read().decode()
me = urllib.request.urlopen(urllib.request.Request(base + "latest/meta-data/instance-id",
    headers={"X-aws-ec2-metadata-token": token})).read().decode()
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="QUEUE")["QueueUrl"]
print("sending as", me, flush=True)
while True:
    sqs.send_message(QueueUrl=url, MessageBody=me)
    time.sleep(1)
EOF
chmod +x var/lib/cloud/scripts/per-boot/sender
./var/lib/cloud/scripts/per-boot/sender
"""


def test_an_instance_sends_its_own_id_until_stopped_and_resumes_per_boot(module_lab):
    ec2, sqs = boto3.client("ec2"), boto3.client("sqs")
    name = f"labkit-test-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    instance_id = launch(ec2, SENDER.replace("QUEUE", name))

    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10).get("Messages", [])
    assert got and got[0]["Body"] == instance_id
    first = record(instance_id)
    assert first is not None and first.pid and group_alive(instance_id, first.pid)

    ec2.stop_instances(InstanceIds=[instance_id])
    assert not group_alive(instance_id, first.pid)  # within the call
    drain(sqs, queue_url)
    time.sleep(2.5)
    assert drain(sqs, queue_url) == []  # no more messages while stopped

    ec2.start_instances(InstanceIds=[instance_id])
    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10).get("Messages", [])
    assert got and got[0]["Body"] == instance_id  # the per-boot sender resumed
    text = console(ec2, instance_id)
    assert text.count("user data ran") == 1  # the user data itself did not run again
    assert text.count(f"sending as {instance_id}") == 2
    second = record(instance_id)
    assert second is not None and second.boots == 2 and second.pid != first.pid

    ec2.terminate_instances(InstanceIds=[instance_id])
    assert not group_alive(instance_id, second.pid)
    assert not (instances.instances_dir(config.home()) / instance_id).exists()  # its root went with it
    sqs.delete_queue(QueueUrl=queue_url)


LONG_RUNNING = """#!/bin/sh
printf '#!/bin/sh\\nsleep 300\\n' > var/lib/cloud/scripts/per-boot/wait
chmod +x var/lib/cloud/scripts/per-boot/wait
sleep 300
"""


def test_reboot_restarts_the_processes(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, LONG_RUNNING)
    before = record(instance_id)
    assert before and before.pid
    ec2.reboot_instances(InstanceIds=[instance_id])
    after = wait_for(lambda: (r := record(instance_id)) and r.boots == 2 and r)
    assert not group_alive(instance_id, before.pid) and group_alive(instance_id, after.pid)
    assert console(ec2, instance_id).count("[labkit] boot") == 2
    ec2.terminate_instances(InstanceIds=[instance_id])


CLOUD_CONFIG = """#cloud-config
bootcmd:
  - echo boot >> boots.txt
write_files:
  - path: /etc/app.conf
    content: |
      colour=blue
runcmd:
  - echo "runcmd sees $(cat etc/app.conf)"
  - [sh, -c, "echo from-a-list > runcmd.txt"]
"""


def test_cloud_config_write_files_runcmd_and_bootcmd_every_boot(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, CLOUD_CONFIG)
    root = instances.instances_dir(config.home()) / instance_id / "root"
    wait_for(lambda: (root / "runcmd.txt").exists())
    assert (root / "etc/app.conf").read_text() == "colour=blue\n"
    assert "runcmd sees colour=blue" in wait_for(
        lambda: "runcmd sees" in console(ec2, instance_id) and console(ec2, instance_id)
    )
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.start_instances(InstanceIds=[instance_id])
    wait_for(lambda: (root / "boots.txt").read_text().count("boot") == 2)
    assert console(ec2, instance_id).count("runcmd sees") == 1  # runcmd is user data: first boot only
    ec2.terminate_instances(InstanceIds=[instance_id])


IMDS_CHECK = """#!/usr/bin/env python3
import urllib.request, urllib.error, boto3, os
base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
try:
    print("v1", urllib.request.urlopen(base + "latest/meta-data/placement/region").read().decode())
except urllib.error.HTTPError as err:
    print("v1 refused", err.code)
session = boto3.Session()
print("credentials from", session.get_credentials().method)
print("user-data starts", urllib.request.urlopen(urllib.request.Request(base + "latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})).status)
print("queues", type(boto3.client("sqs").list_queues().get("QueueUrls", [])).__name__)
"""


def test_the_aws_cli_on_an_instance_reaches_the_backend_with_the_metadata_credentials(module_lab):
    """User data often calls `aws ...`: the CLI (v1) is on the PATH, with no keys in the environment."""
    sqs, ec2 = boto3.client("sqs"), boto3.client("ec2")
    url = sqs.create_queue(QueueName=f"cli-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    script = f"#!/bin/sh\nenv | grep -c AWS_ACCESS_KEY\naws sqs send-message --queue-url {url} --message-body 'by CLI'"
    instance_id = launch(ec2, script)
    assert wait_for(lambda: drain(sqs, url), 30) == ["by CLI"]
    assert "0" in console(ec2, instance_id).splitlines()  # so the credentials came from the metadata service
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_metadata_service_v1_v2_credentials_and_region(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, IMDS_CHECK)
    text = wait_for(lambda: "queues" in console(ec2, instance_id) and console(ec2, instance_id))
    assert f"v1 {module_lab.region}" in text
    assert "credentials from iam-role" in text  # no keys in the instance's environment: its profile's
    assert "queues list" in text  # and they reach the backend
    required = launch(ec2, IMDS_CHECK, MetadataOptions={"HttpTokens": "required"})
    text = wait_for(lambda: "queues" in console(ec2, required) and console(ec2, required))
    assert "v1 refused 401" in text and "credentials from iam-role" in text  # boto3 uses IMDSv2
    ec2.terminate_instances(InstanceIds=[instance_id, required])


def test_console_output_is_base64_on_the_wire(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, "#!/bin/sh\necho 'héllo console'\n")
    wait_for(lambda: "héllo console" in console(ec2, instance_id))
    raw = {}
    ec2.meta.events.register(
        "after-call.ec2.GetConsoleOutput", lambda http_response, **_: raw.update(b=http_response.text), unique_id="raw"
    )
    ec2.get_console_output(InstanceId=instance_id)
    encoded = raw["b"].split("<output>")[1].split("</output>")[0]
    assert "héllo console" in base64.b64decode(encoded).decode()
    ec2.terminate_instances(InstanceIds=[instance_id])


WRITER = """#!/bin/sh
while [ ! -d dev/sdf ]; do sleep 0.1; done
me=$(python3 -c 'import os, urllib.request as u
print(u.urlopen(os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] + "latest/meta-data/instance-id").read().decode())')
echo "written by $me" > dev/sdf/note.txt
"""


def test_ebs_data_outlives_stop_detach_and_the_instance_and_snapshots_copy_it(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, WRITER)
    zone = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"
    ]
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    root = instances.instances_dir(config.home()) / instance_id / "root"
    note = wait_for(lambda: (root / "dev/sdf/note.txt").exists() and (root / "dev/sdf/note.txt").read_text())
    assert note == f"written by {instance_id}\n"

    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.start_instances(InstanceIds=[instance_id])
    assert (root / "dev/sdf/note.txt").read_text() == note  # after stop/start

    snapshot_id = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
    (root / "dev/sdf/later.txt").write_text("after the snapshot")
    ec2.detach_volume(VolumeId=volume_id, InstanceId=instance_id)
    assert not (root / "dev/sdf").exists()
    other = launch(ec2)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=other, Device="/dev/sdg")
    other_root = instances.instances_dir(config.home()) / other / "root"
    assert (other_root / "dev/sdg/note.txt").read_text() == note  # on another instance

    ec2.terminate_instances(InstanceIds=[instance_id, other])
    restored = ec2.create_volume(AvailabilityZone=zone, SnapshotId=snapshot_id)["VolumeId"]
    third = launch(ec2)
    ec2.attach_volume(VolumeId=restored, InstanceId=third, Device="/dev/sdf")
    third_root = instances.instances_dir(config.home()) / third / "root"
    assert (third_root / "dev/sdf/note.txt").read_text() == note  # the snapshot's copy
    assert not (third_root / "dev/sdf/later.txt").exists()  # taken before that file was written
    ec2.terminate_instances(InstanceIds=[third])
    ec2.delete_volume(VolumeId=restored)
    ec2.delete_volume(VolumeId=volume_id)
    assert not (instances.ebs_dir(config.home()) / "volumes" / volume_id).exists()


def test_auto_scaling_instances_run_the_template_and_scale_in_ends_them(module_lab):
    ec2, sqs, asg = boto3.client("ec2"), boto3.client("sqs"), boto3.client("autoscaling")
    name = f"labkit-test-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    data = base64.b64encode(SENDER.replace("QUEUE", name).encode()).decode()  # base64 in a template, as on AWS
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image(ec2), "UserData": data})
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=3,
        AvailabilityZones=[zone],
    )
    members = {
        i["InstanceId"]
        for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]
    }
    seen: set[str] = set()
    wait_for(lambda: seen.update(drain(sqs, queue_url)) or seen == members, timeout_s=15)
    assert len(seen) == 3

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    left = {
        i["InstanceId"]
        for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]
    }
    assert len(left) == 1
    running = wait_for(lambda: {r.instance_id for r in instances.running(config.home())} & members == left, 5)
    assert running
    drain(sqs, queue_url)
    time.sleep(1.5)
    assert set(drain(sqs, queue_url)) <= left
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    sqs.delete_queue(QueueUrl=queue_url)


def test_at_most_twenty_running_instances(module_lab):
    ec2 = boto3.client("ec2")
    already = len([r for r in instances.read_records(config.home()) if r.state == "running"])
    made = ec2.run_instances(ImageId=image(ec2), MinCount=20 - already, MaxCount=20 - already)["Instances"]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        launch(ec2)
    assert refused.value.response["Error"]["Code"] == "InstanceLimitExceeded"
    assert "terminate some first" in refused.value.response["Error"]["Message"]
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in made])
    ec2.terminate_instances(InstanceIds=[launch(ec2)])  # room again


def test_status_lists_running_instances(module_lab, capsys):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, "#!/bin/sh\nsleep 300\n")
    lines = embedded.Embedded().status().lines
    line = next(line for line in lines if instance_id in line)
    assert f"pid {record(instance_id).pid}" in line
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_reset_ends_every_instance(module_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, "#!/bin/sh\nsleep 300\n")
    pid = record(instance_id).pid
    embedded.reset()
    assert not group_alive(instance_id, pid)


def test_moto_stopping_ends_its_instances(embedded_lab):
    """SIGTERM to the moto server (what `labkit down` sends first): it ends its instances as it exits."""
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, "#!/bin/sh\nsleep 300\n")
    pid = wait_for(lambda: record(instance_id) and record(instance_id).pid)
    moto = embedded.read_state().moto
    os.kill(moto.pid, signal.SIGTERM)
    wait_for(lambda: not embedded.is_alive(moto))
    assert not group_alive(instance_id, pid)  # before any sweep by labkit


def test_no_instance_outlives_labkit_down_even_if_moto_was_killed(embedded_lab):
    ec2 = boto3.client("ec2")
    instance_id = launch(ec2, "#!/bin/sh\nsleep 300 &\nsleep 300\n")
    pid = wait_for(lambda: record(instance_id) and record(instance_id).pid)
    moto = embedded.read_state().moto
    os.kill(moto.pid, signal.SIGKILL)
    wait_for(lambda: not embedded.is_alive(moto))
    assert group_alive(instance_id, pid)  # moto cannot end it now
    embedded.stop()  # labkit down
    assert not group_alive(instance_id, pid)
    assert not Path(instances.instances_dir(config.home())).exists()
