"""Checks for 01-ec2-and-ebs."""

from __future__ import annotations

import boto3

from labkit.backends.aws import TAG_KEY
from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, name_tag, newest, suffix_of


@exercise(2, "a server with a second disk", looks_for="instance of yours in VPC labkit-01-<suffix>, or tagged")
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


@exercise(1, "open HTTPS", looks_for="security group labkit-01-web-<suffix>")
def https_open(group_id: str | None) -> Result:
    """The security group lets in TCP 443 from anywhere (0.0.0.0/0), and nothing else new beyond port 80."""
    if not group_id or "..." in group_id:
        return hint("pass the GroupId of the security group you changed")
    ec2 = boto3.client("ec2")
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    for rule in group.get("IpPermissions", []):
        if rule.get("IpProtocol") == "tcp" and rule.get("FromPort") == 443 and rule.get("ToPort") == 443:
            if any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", [])):
                return passed(f"{group['GroupName']} lets HTTPS (tcp 443) in from anywhere")
            return hint("there is a tcp 443 rule, but not from 0.0.0.0/0 (anywhere)")
    ports = sorted({(r.get("IpProtocol"), r.get("FromPort")) for r in group.get("IpPermissions", [])}, key=str)
    return hint(
        f"no inbound tcp 443 rule yet (the group allows {ports}): "
        "use ec2.authorize_security_group_ingress with FromPort=443, ToPort=443"
    )


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("01")


@https_open.finder
def _web_group(scan: Scan) -> list[Candidate]:
    groups = [g for g in scan.security_groups() if suffix_of("labkit-01-web-{s}", g.get("GroupName", ""))]
    return [Candidate(g["GroupName"], (g["GroupId"],)) for g in groups]


@volume_attached.finder
def _second_disk(scan: Scan) -> list[Candidate]:
    ec2 = scan.client("ec2")
    alive = {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
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
