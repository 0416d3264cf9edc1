"""Checks for 10-networking."""

from __future__ import annotations

import ipaddress

import boto3
import dns.exception
import dns.resolver

from labkit.course.checks import Result, hint, passed, unavailable
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan
from labkit.lessons.l10_networking.dns_lookup import resolver_for

API_ADDRESS, API_TTL = "192.0.2.30", 120  # exercise 3: where api.<zone> moves, and for how long resolvers keep it


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


@exercise(2, "a second fence, without memory", looks_for="network ACL on subnet labkit-10-<suffix>-private")
def private_subnet_acl(subnet_id: str, vpc_id: str, from_cidr: str = "10.20.1.0/24", port: int = 5432) -> Result:
    """The subnet has its own network ACL: in TCP ``port`` from ``from_cidr`` only, out TCP 1024-65535 to it."""
    ec2 = boto3.client("ec2")
    found = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    if not found["NetworkAcls"]:
        return hint(f"no network ACL is associated with {subnet_id}: is it the private subnet of the lesson's VPC?")
    acl = found["NetworkAcls"][0]
    if acl.get("VpcId") != vpc_id:
        return hint(f"{subnet_id} is in {acl.get('VpcId')}, not in the lesson's VPC {vpc_id}")
    if acl.get("IsDefault"):
        return hint(
            "the subnet still uses the VPC's default network ACL, which allows everything: create your own and "
            "associate it with replace_network_acl_association"
        )
    source = ipaddress.ip_network(from_cidr)
    rules = [e for e in acl["Entries"] if e["RuleNumber"] != 32767 and e["RuleAction"] == "allow"]
    inbound = [e for e in rules if not e["Egress"]]
    outbound = [e for e in rules if e["Egress"]]
    for rule in inbound:
        cidr = rule.get("CidrBlock") or rule.get("Ipv6CidrBlock", "::/0")
        if not _within(cidr, source):
            return hint(f"an inbound rule allows {cidr}: only the public subnet {from_cidr} should get in")
        if not _tcp(rule, port, port, exact=True):
            return hint(f"an inbound rule allows {_describe(rule)}: only TCP {port} should get in")
    if not inbound:
        return hint(f"no inbound rule allows TCP {port} from {from_cidr} (create_network_acl_entry with Egress=False)")
    if not any(_tcp(rule, 1024, 65535) and _within(rule.get("CidrBlock", ""), source, wider=True) for rule in outbound):
        return hint(
            f"network ACLs are stateless: the replies to port {port} go back to the client's ephemeral port, so allow "
            f"outbound TCP 1024-65535 to {from_cidr} (create_network_acl_entry with Egress=True)"
        )
    return passed(f"{acl['NetworkAclId']}: in TCP {port} from {from_cidr} only, replies out on 1024-65535")


@exercise(3, "a name that moves", looks_for="record api.shop-<suffix>.example.com")
def api_record(zone_id: str, name: str, answered: list[str] | None = None) -> Result:
    """``name`` is an A record of ``API_ADDRESS`` with TTL ``API_TTL``, and DNS answers it (as did the learner)."""
    route53 = boto3.client("route53")
    wanted = name if name.endswith(".") else name + "."
    listed = route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=wanted, StartRecordType="A", MaxItems="5"
    )["ResourceRecordSets"]
    found = [r for r in listed if r["Name"].lower() == wanted.lower() and r["Type"] == "A"]
    if not found:
        return hint(f"no A record {wanted} in the zone: UPSERT it with change_resource_record_sets")
    record = found[0]
    values = sorted(v["Value"] for v in record.get("ResourceRecords", []))
    if values != [API_ADDRESS]:
        return hint(f"{wanted} points at {values or record.get('AliasTarget')}: UPSERT the one value {API_ADDRESS}")
    if int(record.get("TTL", 0)) != API_TTL:
        return hint(f"its TTL is {record.get('TTL')} s: set TTL={API_TTL} in the same UPSERT")
    resolver = resolver_for(route53.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"])
    if resolver is None:
        return unavailable(
            "DNS answers for Route 53 zones", f"the record set itself is right ({API_ADDRESS}, TTL {API_TTL})"
        )
    if answered is not None and sorted(answered) != [API_ADDRESS]:
        return hint(
            f"DNS answered you {answered}: ask again once the change is INSYNC, and keep "
            "[r.address for r in resolver.resolve(api_name, 'A')]"
        )
    try:
        answer = resolver.resolve(wanted, "A")
    except dns.exception.DNSException as err:
        return hint(f"the zone's name server does not answer {wanted} yet ({type(err).__name__}): wait until INSYNC")
    addresses = sorted(r.address for r in answer)
    ttl = answer.rrset.ttl if answer.rrset is not None else None
    if addresses != [API_ADDRESS] or ttl != API_TTL:
        return hint(f"DNS still answers {addresses} with TTL {ttl}: wait until the change is INSYNC")
    return passed(f"{wanted} answers {API_ADDRESS} with TTL {API_TTL} s, from the zone's authoritative server")


def _within(cidr: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network, wider: bool = False) -> bool:
    """``cidr`` lies inside ``network`` (or, when ``wider``, contains it)."""
    try:
        rule = ipaddress.ip_network(cidr)
    except ValueError:
        return False
    if rule.version != network.version:
        return False
    return network.subnet_of(rule) if wider else rule.subnet_of(network)  # type: ignore[arg-type]


def _tcp(rule: dict, first: int, last: int, exact: bool = False) -> bool:
    """The rule allows TCP on ``first``-``last`` (exactly those ports when ``exact``)."""
    if rule.get("Protocol") not in ("6", "-1") or (exact and rule.get("Protocol") != "6"):
        return False
    ports = rule.get("PortRange") or {"From": 0, "To": 65535}
    if exact:
        return (ports.get("From"), ports.get("To")) == (first, last)
    return ports.get("From", 0) <= first and ports.get("To", 65535) >= last


def _describe(rule: dict) -> str:
    protocol = {"-1": "all traffic", "6": "TCP", "17": "UDP"}.get(
        rule.get("Protocol", ""), f"protocol {rule.get('Protocol')}"
    )
    ports = rule.get("PortRange")
    return f"{protocol} {ports['From']}-{ports['To']}" if ports else protocol


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


@private_subnet_acl.finder
def _private_acl(scan: Scan) -> list[Candidate]:
    attempts = []
    for vpc_id, suffix in scan.vpcs_named("labkit-10-{s}").items():
        subnets = scan.client("ec2").describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "tag:Name", "Values": [f"labkit-10-{suffix}-private"]},
            ]
        )["Subnets"]
        attempts += [Candidate(f"labkit-10-{suffix}-private", (s["SubnetId"], vpc_id)) for s in subnets]
    return attempts


@api_record.finder
def _api_record(scan: Scan) -> list[Candidate]:
    zones = scan.once(("route53",), lambda: scan.pages("route53", "list_hosted_zones", "HostedZones"))
    return [
        Candidate(f"api.{z['Name']}", (z["Id"], f"api.{z['Name']}"))
        for z in zones
        if z["Name"].startswith("shop-") and z["Name"].endswith(".example.com.")
    ]
