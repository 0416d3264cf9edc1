"""EC2, EBS, VPC and Elastic Beanstalk behaviours lesson 01 relies on, asserted with plain boto3."""

from __future__ import annotations

import base64
import contextlib

import boto3
import botocore.exceptions
import pytest

WAIT = {"Delay": 1, "MaxAttempts": 120}


@pytest.fixture
def ec2(lab):
    return boto3.client("ec2")


@pytest.fixture
def network(ec2, unique):
    """A VPC, a subnet and a security group with tcp 80 open; deleted afterwards (after any instances)."""
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"parity-{unique}", Description="parity", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    made = {"vpc": vpc, "subnet": subnet, "group": group, "zone": zone, "instances": [], "volumes": []}
    yield made
    if made["instances"]:
        ec2.terminate_instances(InstanceIds=made["instances"])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=made["instances"], WaiterConfig=WAIT)
    for volume in made["volumes"]:
        with contextlib.suppress(botocore.exceptions.ClientError):
            ec2.delete_volume(VolumeId=volume)
    for call, kwargs in (
        (ec2.delete_security_group, {"GroupId": group}),
        (ec2.delete_subnet, {"SubnetId": subnet}),
        (ec2.delete_vpc, {"VpcId": vpc}),
    ):
        with contextlib.suppress(botocore.exceptions.ClientError):
            call(**kwargs)


def _image(ec2) -> str:
    images = ec2.describe_images(
        Owners=["amazon"],
        Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}, {"Name": "state", "Values": ["available"]}],
    )["Images"]
    return max(images, key=lambda i: i["CreationDate"])["ImageId"]


def _launch(ec2, network, **extra) -> dict:
    instance = ec2.run_instances(
        ImageId=_image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=network["subnet"],
        SecurityGroupIds=[network["group"]],
        **extra,
    )["Instances"][0]
    network["instances"].append(instance["InstanceId"])
    return instance


def _state(ec2, instance_id) -> str:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def _code(err: botocore.exceptions.ClientError) -> str:
    return err.response["Error"]["Code"]


def test_duplicate_security_group_rule_is_refused(ec2, network):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=network["group"],
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
    assert _code(err.value) == "InvalidPermission.Duplicate"


def test_key_pair_hands_out_the_private_key_once(ec2, unique):
    name = f"parity-{unique}"
    key = ec2.create_key_pair(KeyName=name, KeyType="ed25519")
    try:
        assert key["KeyMaterial"].startswith("-----BEGIN") and key["KeyFingerprint"]
        described = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
        assert "KeyMaterial" not in described
    finally:
        ec2.delete_key_pair(KeyName=name)


def test_run_instance_pending_then_running_with_user_data(ec2, network):
    script = "#!/bin/bash\necho hello\n"
    instance = _launch(ec2, network, UserData=script)
    assert instance["State"]["Name"] == "pending"
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    attribute = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    assert base64.b64decode(attribute["UserData"]["Value"]).decode() == script
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert described["SubnetId"] == network["subnet"]
    assert described["PrivateIpAddress"].startswith("10.77.1.")
    root = described["BlockDeviceMappings"][0]["Ebs"]
    assert root["DeleteOnTermination"] is True


def test_volume_stays_attached_through_stop_and_start_and_outlives_termination(ec2, network):
    instance = _launch(ec2, network)
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    root = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]
    volume = ec2.create_volume(AvailabilityZone=network["zone"], Size=2, VolumeType="gp3")["VolumeId"]
    network["volumes"].append(volume)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    assert ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")["State"] in ("attaching", "attached")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig=WAIT)

    assert ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]["CurrentState"]["Name"] in (
        "stopping",
        "stopped",
    )
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    attachments = ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"]
    assert [(a["InstanceId"], a["Device"], a["State"]) for a in attachments] == [(iid, "/dev/sdf", "attached")]

    assert ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]["CurrentState"]["Name"] in (
        "pending",
        "running",
    )
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"][0]["State"] == "attached"

    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.delete_volume(VolumeId=volume)
    assert _code(err.value) == "VolumeInUse"

    terminating = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert terminating["CurrentState"]["Name"] in ("shutting-down", "terminated")
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    network["instances"].remove(iid)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)  # attached later: kept
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[root["Ebs"]["VolumeId"]], WaiterConfig=WAIT)
    with pytest.raises(botocore.exceptions.ClientError) as err:  # the root volume went with the instance
        ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])
    assert _code(err.value) == "InvalidVolume.NotFound"


def test_snapshot_restores_to_a_new_volume(ec2, network):
    volume = ec2.create_volume(AvailabilityZone=network["zone"], Size=3, VolumeType="gp3")["VolumeId"]
    network["volumes"].append(volume)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=volume, Description="parity")["SnapshotId"]
    try:
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
        done = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
        assert (done["State"], done["VolumeId"], done["VolumeSize"]) == ("completed", volume, 3)
        restored = ec2.create_volume(AvailabilityZone=network["zone"], SnapshotId=snapshot, VolumeType="gp3")
        network["volumes"].append(restored["VolumeId"])
        assert (restored["Size"], restored["SnapshotId"]) == (3, snapshot)
        ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig=WAIT)
    finally:
        for volume_id in network["volumes"]:
            with contextlib.suppress(botocore.exceptions.ClientError):
                ec2.delete_volume(VolumeId=volume_id)
        ec2.delete_snapshot(SnapshotId=snapshot)


def test_instance_types_report_vcpus_and_memory(ec2):
    sizes = {
        t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
        for t in ec2.describe_instance_types(InstanceTypes=["t3.micro", "m5.large", "c5.xlarge"])["InstanceTypes"]
    }
    assert sizes == {"t3.micro": (2, 1024), "m5.large": (2, 8192), "c5.xlarge": (4, 8192)}


# ---------------------------------------------------------------- Elastic Beanstalk


def test_beanstalk_application_and_environment(lab, unique):
    beanstalk = boto3.client("elasticbeanstalk")
    app, env_name = f"parity-{unique}", f"parity{unique}"
    try:
        beanstalk.create_application(ApplicationName=app, Tags=lab.tags)
    except botocore.exceptions.ClientError as err:
        pytest.skip(f"this backend has no Elastic Beanstalk ({_code(err)})")
    try:
        stacks = beanstalk.list_available_solution_stacks()["SolutionStacks"]
        python = [s for s in stacks if "Amazon Linux 2023" in s and "running Python" in s]
        assert python, "no Python platform on Amazon Linux 2023"
        created = beanstalk.create_environment(
            ApplicationName=app, EnvironmentName=env_name, SolutionStackName=python[0], Tags=lab.tags
        )
        assert created["EnvironmentName"] == env_name
        assert created["Tier"]["Name"] == "WebServer"
        beanstalk.get_waiter("environment_exists").wait(
            ApplicationName=app, EnvironmentNames=[env_name], WaiterConfig={"Delay": 1 if lab.is_emulator else 20}
        )
        env = beanstalk.describe_environments(ApplicationName=app, EnvironmentNames=[env_name])["Environments"][0]
        assert env["Status"] == "Ready"
        tags = beanstalk.list_tags_for_resource(ResourceArn=env["EnvironmentArn"])["ResourceTags"]
        assert all(t in tags for t in lab.tags)
        with pytest.raises(botocore.exceptions.ClientError) as err:
            beanstalk.create_environment(ApplicationName=app, EnvironmentName=env_name, SolutionStackName=python[0])
        assert _code(err.value) == "InvalidParameterValue"
    finally:
        beanstalk.delete_application(ApplicationName=app, TerminateEnvByForce=True)
    assert app not in [a["ApplicationName"] for a in beanstalk.describe_applications()["Applications"]]
