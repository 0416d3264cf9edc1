"""Checks for 01-ec2-and-ebs."""

from __future__ import annotations

import boto3
from botocore.exceptions import ClientError

from labkit.backends.aws import TAG_KEY
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, name_tag, newest, suffix_of


@exercise(1, "a server with a second disk", looks_for="instance of yours in VPC labkit-01-<suffix>, or tagged")
def volume_attached(volume_id: str | None, instance_id: str, device: str = "/dev/sdg") -> Result:
    """The learner's volume is a gp3 volume of at least 1 GiB, attached to the instance at ``device``."""
    if not volume_id or "..." in volume_id:
        return hint("set my_volume_id to the VolumeId that create_volume returned")
    ec2 = boto3.client("ec2")
    volumes = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    if not volumes:
        return hint(f"there is no volume {volume_id}")
    volume = volumes[0]
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    zone = instance["Placement"]["AvailabilityZone"]
    if volume["AvailabilityZone"] != zone:
        return hint(
            f"{volume_id} is in {volume['AvailabilityZone']} but the instance is in {zone}: "
            "a volume can only attach to an instance in its own Availability Zone"
        )
    if volume.get("VolumeType") != "gp3":
        return hint(f"{volume_id} is {volume.get('VolumeType')}: create it with VolumeType='gp3'")
    attachments = [a for a in volume.get("Attachments", []) if a.get("InstanceId") == instance_id]
    if not attachments:
        return hint(f"{volume_id} is {volume['State']} but not attached to {instance_id}: call ec2.attach_volume(...)")
    if attachments[0].get("Device") != device:
        return hint(f"{volume_id} is attached at {attachments[0].get('Device')}; the exercise asks for {device}")
    if attachments[0].get("State") not in ("attaching", "attached"):
        return hint(f"{volume_id}'s attachment is {attachments[0].get('State')}")
    return passed(f"{volume_id} ({volume['Size']} GiB gp3) is {attachments[0]['State']} to {instance_id} at {device}")


ALIVE = ("pending", "running", "stopping", "stopped")
ROOT_VOLUME_SECONDS = 300  # a root volume is made as its instance launches; anything made later is another volume


@exercise(2, "keep the root disk", looks_for="a terminated instance of yours and its root volume, still there")
def root_kept(volume_id: str | None, instance_id: str | None) -> Result:
    """The instance is terminated, and its root volume outlived it: there, ``available``, attached to nothing."""
    if not volume_id or "..." in volume_id:
        return hint("set kept_volume_id to the root volume's VolumeId (describe_instances → BlockDeviceMappings)")
    if not instance_id or "..." in instance_id:
        return hint("set kept_instance_id to the InstanceId that run_instances returned")
    ec2 = boto3.client("ec2")
    try:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    except (ClientError, IndexError):
        return hint(f"there is no instance {instance_id}")
    state = instance["State"]["Name"]
    if state in ALIVE:
        return hint(
            f"{instance_id} is {state}: terminate it (terminate_instances), wait with the instance_terminated "
            "waiter, then look at its root volume"
        )
    if state != "terminated":
        return hint(f"{instance_id} is {state}: wait with the instance_terminated waiter")
    try:
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    except (ClientError, IndexError):
        return hint(
            f"{volume_id} no longer exists: it was deleted with the instance. Launch with BlockDeviceMappings="
            "[{'DeviceName': image['RootDeviceName'], 'Ebs': {'DeleteOnTermination': False, ...}}]"
        )
    if volume.get("Attachments"):
        return hint(f"{volume_id} is {volume['State']}, still attached to {volume['Attachments'][0]['InstanceId']}")
    launched, created = instance.get("LaunchTime"), volume.get("CreateTime")
    same_zone = volume["AvailabilityZone"] == instance["Placement"]["AvailabilityZone"]
    if not same_zone or (launched and created and abs((created - launched).total_seconds()) > ROOT_VOLUME_SECONDS):
        return hint(
            f"{volume_id} was not made with {instance_id} (root volumes are created as the instance launches): "
            "pass the volume in the instance's BlockDeviceMappings at its RootDeviceName"
        )
    return passed(f"{instance_id} is terminated and its root volume {volume_id} is {volume['State']}: it outlived it")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("01")


@volume_attached.finder
def _second_disk(scan: Scan) -> list[Candidate]:
    ec2 = scan.client("ec2")
    alive = {"Name": "instance-state-name", "Values": list(ALIVE)}
    found: dict[str, dict] = {}
    for filters in (
        [{"Name": "vpc-id", "Values": list(scan.vpcs_named("labkit-01-{s}"))}, alive],
        [{"Name": f"tag:{TAG_KEY}", "Values": [LESSON.tag]}, alive],
    ):
        if filters[0]["Values"]:
            for reservation in scan.pages("ec2", "describe_instances", "Reservations", Filters=filters):
                found.update({i["InstanceId"]: i for i in reservation["Instances"]})
    # The lesson's own web server is named labkit-01-web-<suffix>; any other instance is the learner's.
    mine = [i for i in found.values() if not suffix_of("labkit-01-web-{s}", name_tag(i.get("Tags")))]
    volumes, bare = [], []
    for instance in newest(mine, "LaunchTime"):
        iid = instance["InstanceId"]
        attached = scan.pages(
            "ec2", "describe_volumes", "Volumes", Filters=[{"Name": "attachment.instance-id", "Values": [iid]}]
        )
        extra = [
            v
            for v in attached
            if all(a.get("Device") != instance.get("RootDeviceName") for a in v.get("Attachments", []))
        ]
        if not extra:  # a volume made for the exercise but not attached (yet, or in another zone): the check says
            loose = ec2.describe_volumes(
                Filters=[
                    {"Name": f"tag:{TAG_KEY}", "Values": [LESSON.tag]},
                    {"Name": "status", "Values": ["available"]},
                ]
            )["Volumes"]
            extra = [v for v in loose if name_tag(v.get("Tags")) not in ("data", "restored")]  # the lesson's own
        volumes += [(v, iid) for v in extra]
        if not extra:
            bare.append(
                Candidate(
                    iid,
                    detail=f"your instance {iid} is {instance['State']['Name']}, but no volume of yours is attached "
                    "to it yet: create_volume (1 GiB gp3, same zone), then attach_volume at /dev/sdg",
                )
            )
    volumes.sort(key=lambda pair: not any(a.get("Device") == "/dev/sdg" for a in pair[0]["Attachments"]))
    return [Candidate(v["VolumeId"], (v["VolumeId"], iid), {"device": "/dev/sdg"}) for v, iid in volumes] + bare


@root_kept.finder
def _kept_root(scan: Scan) -> list[Candidate]:
    """Terminated instances of the learner's, each with an available volume made as it launched."""
    ec2 = scan.client("ec2")
    gone = {"Name": "instance-state-name", "Values": ["terminated"]}
    found: dict[str, dict] = {}
    for filters in (
        [{"Name": "vpc-id", "Values": list(scan.vpcs_named("labkit-01-{s}"))}, gone],
        [{"Name": f"tag:{TAG_KEY}", "Values": [LESSON.tag]}, gone],
    ):
        if filters[0]["Values"]:
            for reservation in scan.pages("ec2", "describe_instances", "Reservations", Filters=filters):
                found.update({i["InstanceId"]: i for i in reservation["Instances"]})
    mine = [i for i in found.values() if not suffix_of("labkit-01-web-{s}", name_tag(i.get("Tags")))]
    pairs = []
    for instance in newest(mine, "LaunchTime"):
        zone = instance["Placement"]["AvailabilityZone"]
        available = ec2.describe_volumes(
            Filters=[{"Name": "availability-zone", "Values": [zone]}, {"Name": "status", "Values": ["available"]}]
        )["Volumes"]
        pairs += [
            Candidate(v["VolumeId"], (v["VolumeId"], instance["InstanceId"]))
            for v in available
            if name_tag(v.get("Tags")) not in ("data", "restored")
            and abs((v["CreateTime"] - instance["LaunchTime"]).total_seconds()) <= ROOT_VOLUME_SECONDS
        ]
    return pairs
