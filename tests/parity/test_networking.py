"""Parity: the VPC, CloudFront (caching too) and Route 53 (answering DNS too) behaviours lesson 10 relies on."""

from __future__ import annotations

import json
import time

import boto3
import botocore.exceptions
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from labkit.lessons.l10_networking.dns_lookup import authoritative_resolver
from labkit.lessons.l10_networking.network_map import fetch_via_cdn

CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def _code(err) -> str:
    return err.value.response["Error"]["Code"]


def _delete_zone(route53, zone_id: str) -> None:
    """Delete a hosted zone: its own records first (all but NS and SOA), as Route 53 requires."""
    for r in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]:
        if r["Type"] not in ("NS", "SOA"):
            route53.change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": r}]}
            )
    route53.delete_hosted_zone(Id=zone_id)


@pytest.fixture
def vpc(lab):
    ec2 = boto3.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": lab.tags}])[
        "Vpc"
    ]["VpcId"]
    made: list = []
    yield ec2, vpc_id, made
    for kind, ident in reversed(made):
        try:
            if kind == "sg":
                ec2.delete_security_group(GroupId=ident)
            elif kind == "assoc":
                ec2.disassociate_route_table(AssociationId=ident)
            elif kind == "rt":
                ec2.delete_route_table(RouteTableId=ident)
            elif kind == "igw":
                ec2.detach_internet_gateway(InternetGatewayId=ident, VpcId=vpc_id)
                ec2.delete_internet_gateway(InternetGatewayId=ident)
            elif kind == "subnet":
                ec2.delete_subnet(SubnetId=ident)
        except botocore.exceptions.ClientError:
            pass
    ec2.delete_vpc(VpcId=vpc_id)


def test_subnets_are_validated_against_the_vpc_range(vpc):
    ec2, vpc_id, made = vpc
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]
    made.append(("subnet", subnet["SubnetId"]))
    assert subnet["AvailableIpAddressCount"] == 251  # 256 minus the 5 addresses AWS reserves
    with pytest.raises(botocore.exceptions.ClientError) as outside:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.99.1.0/24")
    assert _code(outside) == "InvalidSubnet.Range"
    with pytest.raises(botocore.exceptions.ClientError) as overlap:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.128/25")
    assert _code(overlap) == "InvalidSubnet.Conflict"


def test_public_subnet_routes_to_internet_gateway_and_main_table_stays_local(vpc):
    ec2, vpc_id, made = vpc
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    made.append(("subnet", public))
    private = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    made.append(("subnet", private))
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    made.append(("igw", igw))
    rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    made.append(("rt", rt))
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    made.append(("assoc", ec2.associate_route_table(RouteTableId=rt, SubnetId=public)["AssociationId"]))
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    main = next(t for t in tables if any(a.get("Main") for a in t["Associations"]))
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in main["Routes"]] == [("10.20.0.0/16", "local")]
    ours = next(t for t in tables if t["RouteTableId"] == rt)
    assert [a["SubnetId"] for a in ours["Associations"] if a.get("SubnetId")] == [public]
    assert ("0.0.0.0/0", igw) in [(r["DestinationCidrBlock"], r["GatewayId"]) for r in ours["Routes"]]
    with pytest.raises(botocore.exceptions.ClientError) as busy:
        ec2.delete_vpc(VpcId=vpc_id)
    assert _code(busy) == "DependencyViolation"


def test_security_groups_reference_each_other_and_refuse_duplicates(vpc, unique):
    ec2, vpc_id, made = vpc
    web = ec2.create_security_group(GroupName=f"web-{unique}", Description="web", VpcId=vpc_id)["GroupId"]
    made.append(("sg", web))
    db = ec2.create_security_group(GroupName=f"db-{unique}", Description="db", VpcId=vpc_id)["GroupId"]
    made.append(("sg", db))
    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=https)
    with pytest.raises(botocore.exceptions.ClientError) as dup:
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=https)
    assert _code(dup) == "InvalidPermission.Duplicate"
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}],
    )
    rule = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"][0]
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [web] and rule["IpRanges"] == []


@pytest.fixture
def site(lab, unique):
    cloudfront = boto3.client("cloudfront")
    try:
        cloudfront.list_distributions()
    except botocore.exceptions.ClientError as err:
        pytest.skip(f"this backend does not serve CloudFront: {err.response['Error']['Code']}")
    s3 = boto3.client("s3")
    bucket = f"labkit-parity-site-{unique}"
    where = {} if lab.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": lab.region}}
    s3.create_bucket(Bucket=bucket, **where)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>v1</h1>", ContentType="text/html")
    oac = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": bucket,
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    config = {
        "CallerReference": bucket,
        "Comment": "labkit parity",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{bucket}.s3.{lab.region}.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
        },
    }
    dist = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    yield cloudfront, s3, bucket, dist
    current = cloudfront.get_distribution_config(Id=dist["Id"])
    etag = cloudfront.update_distribution(
        Id=dist["Id"], IfMatch=current["ETag"], DistributionConfig={**current["DistributionConfig"], "Enabled": False}
    )["ETag"]
    deadline = time.monotonic() + 1800
    while cloudfront.get_distribution(Id=dist["Id"])["Distribution"]["Status"] != "Deployed":
        assert time.monotonic() < deadline
        time.sleep(10)
    cloudfront.delete_distribution(Id=dist["Id"], IfMatch=etag)
    cloudfront.delete_origin_access_control(Id=oac, IfMatch=cloudfront.get_origin_access_control(Id=oac)["ETag"])
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_cloudfront_serves_a_private_bucket_only_with_the_oac_policy(lab, site):
    cloudfront, s3, bucket, dist = site
    deadline = time.monotonic() + 1800
    while cloudfront.get_distribution(Id=dist["Id"])["Distribution"]["Status"] != "Deployed":
        assert time.monotonic() < deadline
        time.sleep(10)
    assert fetch_via_cdn(lab, dist["DomainName"], "/").status == 403
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    page = fetch_via_cdn(lab, dist["DomainName"], "/")
    assert (page.status, page.body) == (200, b"<h1>v1</h1>")
    assert "cloudfront" in page.x_cache.lower()
    plain = fetch_via_cdn(lab, dist["DomainName"], "/index.html", https=False)
    assert plain.status == 301 and plain.location.startswith("https://")


def test_invalidation_completes(site):
    cloudfront, _, _, dist = site
    inv = cloudfront.create_invalidation(
        DistributionId=dist["Id"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/index.html"]}, "CallerReference": str(time.time())},
    )["Invalidation"]
    deadline = time.monotonic() + 900
    while (
        status := cloudfront.get_invalidation(DistributionId=dist["Id"], Id=inv["Id"])["Invalidation"]["Status"]
    ) != ("Completed"):
        assert time.monotonic() < deadline
        time.sleep(5)
    assert status == "Completed"
    listed = cloudfront.list_invalidations(DistributionId=dist["Id"])["InvalidationList"]
    assert inv["Id"] in [i["Id"] for i in listed.get("Items", [])]


def test_route53_zone_records_and_alias(lab, unique):
    route53 = boto3.client("route53")
    name = f"parity-{unique}.example.com"
    zone = route53.create_hosted_zone(Name=name, CallerReference=f"parity-{unique}")
    zone_id = zone["HostedZone"]["Id"]
    assert len(zone["DelegationSet"]["NameServers"]) == 4
    alias = {
        "Name": f"www.{name}.",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": CLOUDFRONT_ZONE_ID,
            "DNSName": "d111111abcdef8.cloudfront.net.",
            "EvaluateTargetHealth": False,
        },
    }
    cname = {"Name": f"store.{name}.", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": f"www.{name}"}]}
    try:
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": r} for r in (alias, cname)]},
        )
        records = {
            (r["Name"], r["Type"]): r
            for r in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        }
        assert {("NS", f"{name}."), ("SOA", f"{name}.")} <= {(t, n) for n, t in records}
        got = records[(f"www.{name}.", "A")]["AliasTarget"]
        assert got["DNSName"] == "d111111abcdef8.cloudfront.net." and got["HostedZoneId"] == CLOUDFRONT_ZONE_ID
        with pytest.raises(botocore.exceptions.ClientError) as not_empty:
            route53.delete_hosted_zone(Id=zone_id)
        assert _code(not_empty) == "HostedZoneNotEmpty"
    finally:
        _delete_zone(route53, zone_id)


def test_route53_create_refuses_a_record_that_exists(lab, unique, requires):
    """Lesson 10 UPSERTs a CNAME, then shows that CREATE refuses the same name."""
    requires("route53-duplicate-records")
    route53 = boto3.client("route53")
    name = f"parity-dup-{unique}.example.com"
    zone_id = route53.create_hosted_zone(Name=name, CallerReference=f"parity-dup-{unique}")["HostedZone"]["Id"]
    cname = {"Name": f"store.{name}.", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": f"www.{name}"}]}
    other = {**cname, "ResourceRecords": [{"Value": "elsewhere.example.net"}]}
    try:
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": cname}]}
        )
        with pytest.raises(botocore.exceptions.ClientError) as dup:
            route53.change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": other}]}
            )
        assert _code(dup) == "InvalidChangeBatch"
        listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        assert [r["ResourceRecords"] for r in listed if r["Type"] == "CNAME"] == [[{"Value": f"www.{name}"}]]
    finally:
        _delete_zone(route53, zone_id)


def _until(probe, deadline_s: float, pause: float = 2.0):
    """``probe()`` once it is truthy (AWS: up to ``deadline_s``; a change reaches every name server in ~60 s)."""
    deadline = time.monotonic() + deadline_s
    while not (value := probe()):
        assert time.monotonic() < deadline, "no answer in time"
        time.sleep(pause)
    return value


@pytest.fixture
def answering_zone(lab, unique):
    """A hosted zone and a dnspython resolver that asks its authoritative server (labkit's DNS on the embedded
    backend, the zone's own Route 53 name server on AWS); skipped where the backend answers no DNS."""
    route53 = boto3.client("route53")
    name = f"dns-{unique}.example.com"
    zone = route53.create_hosted_zone(Name=name, CallerReference=f"parity-dns-{unique}")
    resolver = authoritative_resolver(lab, zone["DelegationSet"]["NameServers"])
    if resolver is None:
        _delete_zone(route53, zone["HostedZone"]["Id"])
        pytest.skip("this backend answers no DNS queries for its Route 53 zones (no LABKIT_DNS_RESOLVER)")
    yield route53, zone["HostedZone"]["Id"], f"{name}.", resolver
    _delete_zone(route53, zone["HostedZone"]["Id"])


def _upsert(route53, zone_id: str, **record) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


def _addresses(resolver, name: str) -> list[str]:
    try:
        return sorted(r.address for r in resolver.resolve(name, "A"))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []


def test_route53_records_answer_dns_queries_and_follow_upserts(answering_zone):
    route53, zone_id, zone, resolver = answering_zone
    www = f"www.{zone}"
    _upsert(route53, zone_id, Name=www, Type="A", TTL=60, ResourceRecords=[{"Value": "192.0.2.10"}])
    _upsert(route53, zone_id, Name=f"store.{zone}", Type="CNAME", TTL=300, ResourceRecords=[{"Value": www}])
    _upsert(route53, zone_id, Name=zone, Type="TXT", TTL=300, ResourceRecords=[{"Value": '"labkit parity"'}])
    assert _until(lambda: _addresses(resolver, www), 180) == ["192.0.2.10"]
    answer = resolver.resolve(www, "A")
    assert answer.rrset.ttl == 60 and answer.response.flags & dns.flags.AA  # authoritative, with the record's TTL
    chained = _until(lambda: _addresses(resolver, f"store.{zone}") and resolver.resolve(f"store.{zone}", "A"), 180)
    assert [r.rdtype for r in chained.response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert [r.strings for r in _until(lambda: resolver.resolve(zone, "TXT"), 180)] == [(b"labkit parity",)]
    _upsert(route53, zone_id, Name=www, Type="A", TTL=60, ResourceRecords=[{"Value": "192.0.2.20"}])
    assert _until(lambda: _addresses(resolver, www) == ["192.0.2.20"], 180)


def test_route53_answers_nxdomain_with_the_zones_soa(answering_zone):
    _, _, zone, resolver = answering_zone
    query = dns.message.make_query(f"never-made.{zone}", "A")
    reply = dns.query.udp(query, resolver.nameservers[0], port=resolver.port, timeout=5)
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.answer == []
    assert [(str(r.name), r.rdtype) for r in reply.authority] == [(zone, dns.rdatatype.SOA)]


def _readable_through(site) -> None:
    """Wait until the distribution is deployed, then let it (and only it) read the bucket."""
    cloudfront, s3, bucket, dist = site
    _until(lambda: cloudfront.get_distribution(Id=dist["Id"])["Distribution"]["Status"] == "Deployed", 1800, 10)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def test_cloudfront_caches_until_an_invalidation_and_a_hit_never_reaches_s3(lab, site, unique):
    cloudfront, s3, bucket, dist = site
    _readable_through(site)
    path = f"/page-{unique}.html"
    s3.put_object(Bucket=bucket, Key=path[1:], Body=b"v1", ContentType="text/html")
    first = _until(lambda: (p := fetch_via_cdn(lab, dist["DomainName"], path)).status == 200 and p, 60)
    assert first.x_cache == "Miss from cloudfront" and first.body == b"v1"
    time.sleep(1.1)
    hit = fetch_via_cdn(lab, dist["DomainName"], path)
    assert (hit.x_cache, hit.body) == ("Hit from cloudfront", b"v1") and int(hit.age) >= 1
    s3.put_object(Bucket=bucket, Key=path[1:], Body=b"v2", ContentType="text/html")
    stale = fetch_via_cdn(lab, dist["DomainName"], path)
    assert (stale.x_cache, stale.body) == ("Hit from cloudfront", b"v1")  # S3 was not asked
    inv = cloudfront.create_invalidation(
        DistributionId=dist["Id"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"parity-{unique}"},
    )["Invalidation"]
    _until(
        lambda: (
            cloudfront.get_invalidation(DistributionId=dist["Id"], Id=inv["Id"])["Invalidation"]["Status"]
            == "Completed"
        ),
        900,
        5,
    )
    fresh = fetch_via_cdn(lab, dist["DomainName"], path)
    assert (fresh.x_cache, fresh.body) == ("Miss from cloudfront", b"v2")


def test_cloudfront_keeps_an_object_for_its_max_age(lab, site, unique):
    _, s3, bucket, dist = site
    _readable_through(site)
    path = f"/short-{unique}.txt"
    s3.put_object(Bucket=bucket, Key=path[1:], Body=b"short", CacheControl="max-age=2")
    first = _until(lambda: (p := fetch_via_cdn(lab, dist["DomainName"], path)).status == 200 and p, 60)
    assert first.x_cache == "Miss from cloudfront"
    assert fetch_via_cdn(lab, dist["DomainName"], path).x_cache == "Hit from cloudfront"
    time.sleep(3)  # max-age=2 is above the CachingOptimized policy's MinTTL (1 s): it sets the TTL
    assert fetch_via_cdn(lab, dist["DomainName"], path).x_cache == "Miss from cloudfront"
