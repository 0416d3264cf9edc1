"""Helpers for 10-networking: a browser's request through CloudFront, a wait with progress, the map of what was made.

None of these hide the AWS calls the lesson teaches: they fetch a page the way a
browser would, wait for a status while showing progress, and draw/tabulate the
resources the notebook created (read back with describe calls).
"""

from __future__ import annotations

import http.client
import os
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    status: int
    x_cache: str
    body: bytes
    location: str = ""
    age: str = ""  # the Age header: seconds the answer spent in the cache (on hits)

    def __str__(self) -> str:
        text = self.body[:60].decode(errors="replace").replace("\n", " ")
        where = f" -> {self.location}" if self.location else ""
        age = f", Age {self.age}" if self.age else ""
        return f"HTTP {self.status} ({self.x_cache or 'no X-Cache'}{age}){where}: {text}"


def fetch_via_cdn(lab, domain: str, path: str = "/", https: bool = True, timeout: float = 10.0) -> Page:
    """GET ``path`` from the distribution ``domain`` as a browser would.

    On real AWS this is a real HTTPS request to ``https://<domain><path>``. On the
    embedded backend the ``*.cloudfront.net`` name does not exist on the internet
    for this distribution, so the request goes to the local MiniStack with that
    name in the ``Host`` header (which is how MiniStack tells distributions apart);
    ``X-Forwarded-Proto: https`` stands for a viewer that came over HTTPS.
    """
    if lab.is_emulator:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_CLOUDFRONT") or os.environ["AWS_ENDPOINT_URL"]
        url = urllib.parse.urlparse(endpoint)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=timeout)
        headers = {"Host": domain}
        if https:
            headers["X-Forwarded-Proto"] = "https"
    else:
        conn_cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        conn = conn_cls(domain, timeout=timeout)
        headers = {}
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return Page(
            response.status,
            response.getheader("X-Cache", ""),
            response.read(),
            response.getheader("Location", ""),
            response.getheader("Age", ""),
        )
    finally:
        conn.close()


@dataclass
class NetworkMap:
    """What lesson 10 created, read back from the backend: a table and a mermaid diagram."""

    rows: list[tuple[str, str, str]]  # (kind, name or id, details)
    mermaid: str

    @classmethod
    def read(cls, ec2, cloudfront, route53, vpc_id: str, distribution_id: str, zone_id: str) -> NetworkMap:
        def name(resource: dict, fallback: str) -> str:
            tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
            return tags.get("Name", fallback)

        vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
        vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
        subnets = sorted(ec2.describe_subnets(Filters=vpc_filter)["Subnets"], key=lambda s: s["CidrBlock"])
        tables = ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]
        gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
            "InternetGateways"
        ]
        groups = [
            g for g in ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"] if g["GroupName"] != "default"
        ]
        dist = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
        records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]

        rows = [("VPC", name(vpc, vpc_id), vpc["CidrBlock"])]
        table_of = {}
        for t in tables:
            for a in t.get("Associations", []):
                if a.get("SubnetId"):
                    table_of[a["SubnetId"]] = t
        main = next(t for t in tables if any(a.get("Main") for a in t.get("Associations", [])))
        public_ids = set()
        for s in subnets:
            t = table_of.get(s["SubnetId"], main)
            to_igw = any(r.get("GatewayId", "").startswith("igw-") for r in t["Routes"])
            if to_igw:
                public_ids.add(s["SubnetId"])
            kind = "public" if to_igw else "private"
            rows.append((f"subnet ({kind})", name(s, s["SubnetId"]), f"{s['CidrBlock']} in {s['AvailabilityZone']}"))
        for t in tables:
            routes = ", ".join(f"{r.get('DestinationCidrBlock')} → {r.get('GatewayId', '?')}" for r in t["Routes"])
            main_flag = " (main)" if any(a.get("Main") for a in t.get("Associations", [])) else ""
            rows.append(("route table" + main_flag, name(t, t["RouteTableId"]), routes))
        for g in gateways:
            rows.append(("internet gateway", name(g, g["InternetGatewayId"]), "attached to the VPC"))
        for g in groups:
            rules = []
            for p in g["IpPermissions"]:
                sources = [r["CidrIp"] for r in p.get("IpRanges", [])]
                sources += [_group_name(groups, pair["GroupId"]) for pair in p.get("UserIdGroupPairs", [])]
                rules.append(f"{p.get('IpProtocol')} {p.get('FromPort')} from {' & '.join(sources)}")
            rows.append(("security group", g["GroupName"], "; ".join(rules) or "no inbound rules"))
        origin = dist["DistributionConfig"]["Origins"]["Items"][0]["DomainName"]
        rows.append(("CloudFront distribution", dist["Id"], f"{dist['DomainName']} ← origin {origin.split('.')[0]}"))
        for r in records:
            if r["Type"] in ("NS", "SOA"):
                continue
            target = r.get("AliasTarget", {}).get("DNSName") or ", ".join(
                v["Value"] for v in r.get("ResourceRecords", [])
            )
            alias = " (alias)" if "AliasTarget" in r else ""
            rows.append((f"DNS record {r['Type']}{alias}", r["Name"], target))

        pub = [s for s in subnets if s["SubnetId"] in public_ids]
        priv = [s for s in subnets if s["SubnetId"] not in public_ids]
        lines = [
            "flowchart LR",
            '    user(["a user"]) -->|"DNS query"| R53["Route 53<br/>' + zone["Name"] + '"]',
            '    user -->|"HTTPS"| CF["CloudFront<br/>' + dist["DomainName"] + '"]',
            '    R53 -.->|"alias"| CF',
            '    CF -->|"origin access control"| S3[("S3 bucket<br/>' + origin.split(".")[0] + '")]',
            f'    subgraph VPC["VPC {vpc["CidrBlock"]}"]',
        ]
        for i, s in enumerate(pub):
            lines.append(f'        P{i}["public subnet<br/>{s["CidrBlock"]}"]')
        for i, s in enumerate(priv):
            lines.append(f'        Q{i}["private subnet<br/>{s["CidrBlock"]}"]')
        lines.append("    end")
        if gateways:
            lines.append('    IGW["internet gateway"] --- VPC')
            lines += [f'    IGW -->|"0.0.0.0/0"| P{i}' for i in range(len(pub))]
            lines.append('    internet(("internet")) --- IGW')
        return cls(rows, "\n".join(lines))

    def markdown(self) -> str:
        table = ["| resource | name / id | details |", "|---|---|---|"]
        table += [f"| {k} | `{n}` | {d} |" for k, n, d in self.rows]
        return "```mermaid\n" + self.mermaid + "\n```\n\n" + "\n".join(table)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for kind, _, _ in self.rows:
            key = "DNS record" if kind.startswith("DNS record") else kind.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
        return "created: " + ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in counts.items())

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        width = max(len(k) for k, _, _ in self.rows)
        return "\n".join(f"{k:<{width}}  {n}  {d}" for k, n, d in self.rows)


def _group_name(groups: list[dict], group_id: str) -> str:
    for g in groups:
        if g["GroupId"] == group_id:
            return f"sg {g['GroupName']}"
    return group_id
