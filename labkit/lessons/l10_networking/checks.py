"""Checks for 10-networking."""

from __future__ import annotations

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, suffix_of

CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


@exercise(1, "a database firewall", looks_for="security group of yours in VPC labkit-10-<suffix>")
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


@exercise(2, "the bare domain", looks_for="hosted zone shop-<suffix>.example.com")
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


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("10")


@db_security_group.finder
def _db_group(scan: Scan) -> list[Candidate]:
    attempts = []
    for vpc_id, suffix in scan.vpcs_named("labkit-10-{s}").items():
        groups = scan.security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        web = [g["GroupId"] for g in groups if g["GroupName"] == f"web-{suffix}"]
        others = [g for g in groups if g["GroupName"] not in ("default", f"web-{suffix}")]
        others.sort(key=lambda g: g["GroupName"] != f"db-{suffix}")
        attempts += [Candidate(g["GroupName"], (g["GroupId"], vpc_id, web[0])) for g in others if web]
    return attempts


@apex_alias.finder
def _apex(scan: Scan) -> list[Candidate]:
    route53 = scan.client("route53")
    zones = [
        z
        for z in scan.pages("route53", "list_hosted_zones", "HostedZones")
        if suffix_of("shop-{s}.example.com.", z["Name"])
    ]
    attempts = []
    for zone in zones:
        suffix = suffix_of("shop-{s}.example.com.", zone["Name"])
        cdn = _cdn_domain(scan, suffix or "")
        if cdn is None:  # no distribution of this run: read the target the lesson gave www.<zone>
            records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
            www = [r for r in records if r["Name"] == f"www.{zone['Name']}" and r.get("AliasTarget")]
            cdn = www[0]["AliasTarget"]["DNSName"].rstrip(".") if www else None
        if cdn is None:
            attempts.append(
                Candidate(zone["Name"], detail=f"{zone['Name']} is there, but not the lesson's CloudFront distribution")
            )
        else:
            attempts.append(Candidate(zone["Name"], (zone["Id"], zone["Name"].rstrip("."), cdn)))
    return attempts


def _cdn_domain(scan: Scan, suffix: str) -> str | None:
    listing = scan.once(("cloudfront",), lambda: scan.client("cloudfront").list_distributions()["DistributionList"])
    for item in listing.get("Items", []):
        origins = item.get("Origins", {}).get("Items", [])
        if any(o.get("DomainName", "").startswith(f"labkit-10-site-{suffix}.") for o in origins):
            return item["DomainName"]
    return None
