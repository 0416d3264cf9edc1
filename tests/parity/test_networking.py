"""Parity: the VPC, CloudFront and Route 53 behaviours lesson 10 relies on."""

from __future__ import annotations

import json
import time

import boto3
import botocore.exceptions
import pytest

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
