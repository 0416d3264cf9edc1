"""Checks for 10-networking."""

from __future__ import annotations

import boto3

from labkit.checks._report import Result, check, hint, passed

CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


@check
def db_security_group(group_id: str, vpc_id: str, web_group_id: str) -> Result:
    """The group is in the VPC and lets in TCP 5432 from the web group only: no address ranges, no other ports."""
    ec2 = boto3.client("ec2")
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroups"]
    if not found:
        return hint(f"no security group {group_id!r}: create it with create_security_group")
    group = found[0]
    if group.get("VpcId") != vpc_id:
        return hint(f"{group_id} is in {group.get('VpcId')}, not in the lesson's VPC {vpc_id}: pass VpcId=vpc_id")
    rules = group["IpPermissions"]
    if not rules:
        return hint("the group has no inbound rules yet: authorize_security_group_ingress")
    for rule in rules:
        ranges = rule.get("IpRanges", []) + rule.get("Ipv6Ranges", []) + rule.get("PrefixListIds", [])
        if ranges:
            return hint(f"a rule opens port {rule.get('FromPort')} to address ranges {ranges}: use the web group only")
        if (rule.get("IpProtocol"), rule.get("FromPort"), rule.get("ToPort")) != ("tcp", 5432, 5432):
            return hint(
                f"a rule allows {rule.get('IpProtocol')} {rule.get('FromPort')}-{rule.get('ToPort')}; "
                "only TCP 5432 should be open"
            )
        sources = {pair.get("GroupId") for pair in rule.get("UserIdGroupPairs", [])}
        if sources != {web_group_id}:
            return hint(f"port 5432 is open to groups {sorted(sources)}; it should be the web group {web_group_id}")
    return passed(f"{group['GroupName']}: TCP 5432 from the web group only")


@check
def apex_alias(zone_id: str, zone_name: str, cdn_domain: str) -> Result:
    """The zone apex has an alias A record that targets the CloudFront distribution."""
    route53 = boto3.client("route53")
    apex = zone_name.rstrip(".") + "."
    records = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=apex, StartRecordType="A")
    record = next(
        (r for r in records["ResourceRecordSets"] if r["Name"] == apex and r["Type"] == "A"),
        None,
    )
    if record is None:
        return hint(f"no A record named {apex}: add one with change_resource_record_sets (UPSERT)")
    alias = record.get("AliasTarget")
    if not alias:
        return hint("the apex A record lists IP addresses; make it an alias: AliasTarget instead of ResourceRecords")
    if alias.get("DNSName", "").rstrip(".").lower() != cdn_domain.rstrip(".").lower():
        return hint(f"the alias points at {alias.get('DNSName')}; it should point at {cdn_domain}")
    if alias.get("HostedZoneId") != CLOUDFRONT_ZONE_ID:
        return hint(f"for CloudFront the alias HostedZoneId is {CLOUDFRONT_ZONE_ID}, not {alias.get('HostedZoneId')}")
    return passed(f"{apex} is an alias for {cdn_domain}")
