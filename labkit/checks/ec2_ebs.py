"""Checks for 01-ec2-and-ebs."""

from __future__ import annotations

import boto3

from labkit.checks._report import Result, check, hint, passed


@check
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


@check
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
