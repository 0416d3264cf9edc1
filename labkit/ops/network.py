"""The network, deleted from the inside out: security groups, route tables, internet gateways, subnets,
VPCs; and the edge: Route 53 hosted zones, CloudFront distributions and origin access controls."""

from __future__ import annotations

from labkit.backends.aws import TAG_KEY
from labkit.ops.run import Found, Run, ec2_filters, ec2_simple, paginate, tags_of


def security_groups(run: Run) -> list[Found]:
    ec2 = run.client("ec2")
    groups = paginate(ec2, "describe_security_groups", "SecurityGroups", Filters=ec2_filters(run))
    return [
        Found(
            "ec2 security group",
            g["GroupId"],
            tags_of(g.get("Tags"))[TAG_KEY],
            lambda i=g["GroupId"]: ec2.delete_security_group(GroupId=i) and None,
        )
        for g in groups
        if g.get("GroupName") != "default"
    ]


def route_tables(run: Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for table in paginate(ec2, "describe_route_tables", "RouteTables", Filters=ec2_filters(run)):
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue  # a VPC's main route table goes with the VPC

        def delete(t=table) -> None:
            for assoc in t.get("Associations", []):
                if assoc.get("RouteTableAssociationId"):
                    ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=t["RouteTableId"])

        out.append(Found("ec2 route table", table["RouteTableId"], tags_of(table.get("Tags"))[TAG_KEY], delete))
    return out


def internet_gateways(run: Run) -> list[Found]:
    ec2 = run.client("ec2")
    out = []
    for igw in paginate(ec2, "describe_internet_gateways", "InternetGateways", Filters=ec2_filters(run)):

        def delete(g=igw) -> None:
            for att in g.get("Attachments", []):
                ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=att["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])

        out.append(Found("ec2 internet gateway", igw["InternetGatewayId"], tags_of(igw.get("Tags"))[TAG_KEY], delete))
    return out


subnets = ec2_simple("ec2 subnet", "describe_subnets", "Subnets", "SubnetId", "delete_subnet")
vpcs = ec2_simple("ec2 vpc", "describe_vpcs", "Vpcs", "VpcId", "delete_vpc")


def hosted_zones(run: Run) -> list[Found]:
    r53 = run.client("route53")
    zones = {z["Id"].rsplit("/", 1)[-1]: z for z in paginate(r53, "list_hosted_zones", "HostedZones")}
    ids = list(zones)
    out = []
    for start in range(0, len(ids), 10):
        answer = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=ids[start : start + 10])
        for tag_set in answer.get("ResourceTagSets", []):
            lesson = run.wanted(tags_of(tag_set.get("Tags")))
            if lesson is None:
                continue
            zone = zones[tag_set["ResourceId"]]

            def delete(zid=tag_set["ResourceId"], apex=zone["Name"]) -> str:
                removed = 0
                for record in paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zid):
                    if record["Type"] in ("NS", "SOA") and record["Name"] == apex:
                        continue
                    r53.change_resource_record_sets(
                        HostedZoneId=zid,
                        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
                    )
                    removed += 1
                r53.delete_hosted_zone(Id=zid)
                return f"deleted {removed} record(s) first" if removed else ""

            out.append(Found("route53 hosted zone", f"{zone['Name']} ({tag_set['ResourceId']})", lesson, delete))
    return out


def distributions(run: Run) -> list[Found]:
    cf = run.client("cloudfront")
    out = []
    for dist in _cf_list(cf):
        lesson = run.wanted(tags_of(cf.list_tags_for_resource(Resource=dist["ARN"]).get("Tags", {}).get("Items")))
        if lesson is None:
            continue
        did = dist["Id"]
        enabled, deployed = dist.get("Enabled", True), dist.get("Status") == "Deployed"

        def delete(i=did) -> str | None:
            current = cf.get_distribution_config(Id=i)
            config, etag = current["DistributionConfig"], current["ETag"]
            if config.get("Enabled", True):
                cf.update_distribution(Id=i, IfMatch=etag, DistributionConfig={**config, "Enabled": False})
                return "disabled; delete it again later (AWS takes minutes to disable it)"
            if cf.get_distribution(Id=i)["Distribution"]["Status"] != "Deployed":
                return "disabled; still deploying: delete it again later"
            cf.delete_distribution(Id=i, IfMatch=etag)
            return None

        detail = "" if not enabled and deployed else "will be disabled first; delete it again later"
        out.append(Found("cloudfront distribution", did, lesson, delete, detail=detail))
    return out


def _cf_list(cf) -> list[dict]:
    items: list[dict] = []
    for page in cf.get_paginator("list_distributions").paginate():
        items += page.get("DistributionList", {}).get("Items", []) or []
    return items


def origin_access_controls(run: Run) -> list[Found]:
    """OACs cannot be tagged: the name rule (``labkit-`` prefix) applies."""
    cf = run.client("cloudfront")
    out = []
    for page in cf.get_paginator("list_origin_access_controls").paginate():
        for oac in page.get("OriginAccessControlList", {}).get("Items", []) or []:
            lesson = run.by_name(oac["Name"])
            if lesson is None:
                continue

            def delete(i=oac["Id"]) -> None:
                cf.delete_origin_access_control(Id=i, IfMatch=cf.get_origin_access_control(Id=i)["ETag"])

            out.append(
                Found("cloudfront origin access control", oac["Name"], lesson, delete, detail="found by name (no tags)")
            )
    return out
