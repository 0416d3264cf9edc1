"""Route 53's hosted zones answered over DNS, on 127.0.0.1, from inside MiniStack's process.

MiniStack (1.5.33) keeps Route 53's zones and record sets but answers no DNS query. ``ministack_fixes.py``
(the launcher) starts this server in a thread of MiniStack's own process when ``LABKIT_DNS_PORT`` is set,
so every answer comes from the record sets as they are at that moment: a change made with
``change_resource_record_sets`` is answered at the next query, a ``/_ministack/reset`` empties it, and
``labkit down`` stops it with MiniStack. It listens on UDP and TCP, on 127.0.0.1 only.

The DNS wire format and the servers are ``dnslib``'s (PyPI); record values are read with dnslib's own
zone-file parser. What is labkit's here is only the part Route 53 decides
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/welcome-dns-service.html):

- the zone is the longest hosted zone name that ends the query name; a name under no zone is REFUSED;
- a name with no record in its zone is NXDOMAIN, a name with records of other types NOERROR with no
  answer (both with the zone's SOA, for the negative TTL of RFC 2308);
- A, AAAA, CNAME, TXT, MX, NS, SOA, SRV, CAA, PTR values as stored, with each record set's TTL;
  wildcards (``*.zone``) where no exact name matches;
- a CNAME is followed while its target is in one of the zones here;
- an alias record is answered with its target's records under the alias's own name (no CNAME), as
  Route 53 does (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html);
  a target that is a CloudFront distribution of this MiniStack is answered 127.0.0.1 (A) / ::1 (AAAA),
  where MiniStack serves it, with TTL 60;
- weighted record sets: one set per answer, chosen with probability weight / sum of weights, all equal
  when every weight is 0 (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html);
  a failover pair answers its PRIMARY (there are no health checks here); multivalue answers give every set.

Not modelled: health checks, latency and geolocation routing (the first set answers), DNSSEC, zone
delegation below a zone, private zones' VPC scoping (a private zone answers like a public one). With one
server for several accounts (a classroom), a zone name held by two accounts is answered from the first.

Run by path with the servers' Python (``.venv-server``): standard library, dnslib, and MiniStack's
``route53`` / ``cloudfront`` modules (read only, under MiniStack's own lock).
"""

from __future__ import annotations

import random
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

HOST = "127.0.0.1"  # never another interface
MAX_CHAIN = 8  # CNAME / alias hops followed before giving up
LOCAL_ALIAS_TTL = 60
LOCAL_ADDRESS = {"A": "127.0.0.1", "AAAA": "::1"}
RecordSet = dict[str, Any]  # MiniStack's shape: Name, Type, TTL, ResourceRecords, AliasTarget, Weight, ...


def canonical(name: str) -> str:
    """A name as compared here: lower case, one trailing dot, Route 53's ``\\052`` read as ``*``."""
    name = name.strip().lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


@dataclass
class Zone:
    name: str
    records: list[RecordSet] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = canonical(self.name)

    def soa(self) -> RecordSet | None:
        return next((r for r in self.records if r.get("Type") == "SOA"), None)


def ministack_zones() -> list[Zone]:
    """Every hosted zone in this MiniStack (all accounts), copied under Route 53's lock."""
    from ministack.services import route53  # type: ignore[import-not-found, unused-ignore]

    with route53._lock:
        zones = dict(route53._zones._data)
        records = {key: [dict(r) for r in value] for key, value in route53._records._data.items()}
    return [Zone(zone["name"], records.get(key, [])) for key, zone in zones.items()]


def ministack_distribution(name: str) -> bool:
    """True if ``name`` is the domain of a CloudFront distribution in this MiniStack (served on 127.0.0.1)."""
    cloudfront = sys.modules.get("ministack.services.cloudfront")  # not loaded: no distribution was ever made
    if cloudfront is None:
        return False
    wanted = canonical(name)
    return any(canonical(d.get("DomainName", "")) == wanted for d in list(cloudfront._distributions._data.values()))


class Route53Resolver(BaseResolver):  # type: ignore[misc, unused-ignore]
    """Answers a query from ``zones()`` (read at every query) as Route 53's name servers would."""

    def __init__(
        self,
        zones: Callable[[], list[Zone]],
        local_target: Callable[[str], bool] = lambda _name: False,
        choose: Callable[[list[RecordSet], list[float]], RecordSet] | None = None,
    ) -> None:
        self.zones = zones
        self.local_target = local_target
        self.choose = choose or (lambda sets, weights: random.choices(sets, weights=weights)[0])

    # --- dnslib's entry point -----------------------------------------------------------------------

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()  # QR, the question, RD copied; AA set below
        reply.header.ra = 0
        question = request.q
        qname, qtype = canonical(str(question.qname)), QTYPE.get(question.qtype)
        zones = self.zones()
        zone = self.zone_for(qname, zones)
        if zone is None:
            reply.header.rcode = RCODE.REFUSED  # not authoritative for it, and no recursion here
            return reply
        reply.header.aa = 1
        answers, rcode, last_zone = self.answer(qname, str(qtype), zone, zones, 0)
        for rr in answers:
            reply.add_answer(rr)
        reply.header.rcode = rcode
        if rcode == RCODE.NXDOMAIN or not answers:  # a negative answer carries the zone's SOA
            soa = last_zone.soa()
            if soa is not None:
                for rr in self.rrs(last_zone.name, soa):
                    rr.ttl = min(rr.ttl, int(str(soa["ResourceRecords"][0]).split()[-1]))
                    reply.add_auth(rr)
        return reply

    # --- Route 53's part --------------------------------------------------------------------------------

    @staticmethod
    def zone_for(name: str, zones: Iterable[Zone]) -> Zone | None:
        best: Zone | None = None
        for zone in zones:
            if (name == zone.name or name.endswith("." + zone.name)) and (
                best is None or len(zone.name) > len(best.name)
            ):
                best = zone
        return best

    @staticmethod
    def sets_at(name: str, zone: Zone) -> list[RecordSet]:
        """The record sets of ``name`` in ``zone``, or those of the wildcard that covers it."""
        exact = [r for r in zone.records if canonical(r.get("Name", "")) == name]
        if exact:
            return exact
        if any(canonical(r.get("Name", "")).endswith("." + name) for r in zone.records):
            return []  # an empty non-terminal: the name exists, with no records of its own
        labels = name.split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:])
            if not (parent == zone.name or parent.endswith("." + zone.name)):
                break
            wild = [r for r in zone.records if canonical(r.get("Name", "")) == "*." + parent]
            if wild:
                return wild
        return []

    def exists(self, name: str, zone: Zone) -> bool:
        return bool(self.sets_at(name, zone)) or any(
            canonical(r.get("Name", "")).endswith("." + name) for r in zone.records
        )

    def pick(self, sets: list[RecordSet]) -> list[RecordSet]:
        """The record sets a query is answered with, by routing policy."""
        if not sets or not any(s.get("SetIdentifier") for s in sets):
            return sets
        weighted = [s for s in sets if s.get("Weight") is not None]
        if weighted:
            weights = [float(s["Weight"]) for s in weighted]
            return [self.choose(weighted, weights if any(weights) else [1.0] * len(weighted))]
        if any(s.get("Failover") for s in sets):
            return [s for s in sets if s.get("Failover") == "PRIMARY"][:1] or sets[:1]
        if any(s.get("MultiValueAnswer") for s in sets):
            return sets
        return sets[:1]

    def answer(self, name: str, qtype: str, zone: Zone, zones: list[Zone], depth: int) -> tuple[list[RR], int, Zone]:
        """(answer records, rcode, the zone the chain ended in) for ``name``/``qtype``."""
        if not self.exists(name, zone):
            return [], RCODE.NXDOMAIN, zone
        sets = self.sets_at(name, zone)
        cname = [s for s in sets if s.get("Type") == "CNAME"]
        if cname and qtype not in ("CNAME", "ANY"):
            chosen = self.pick(cname)
            out = [rr for s in chosen for rr in self.rrs(name, s)]
            target = canonical(str(out[0].rdata)) if out else ""
            target_zone = self.zone_for(target, zones)
            if target_zone is None or depth >= MAX_CHAIN:
                return out, RCODE.NOERROR, zone
            more, rcode, last = self.answer(target, qtype, target_zone, zones, depth + 1)
            return out + more, rcode, last
        matching = [s for s in sets if qtype == "ANY" or s.get("Type") == qtype]
        out = []
        for record_set in self.pick(matching):
            if record_set.get("AliasTarget"):
                out += self.alias(name, record_set, zones, depth)
            else:
                out += self.rrs(name, record_set)
        return out, RCODE.NOERROR, zone

    def alias(self, name: str, record_set: RecordSet, zones: list[Zone], depth: int) -> list[RR]:
        """An alias record: its target's records of the alias's type, under the alias's own name."""
        qtype, target = str(record_set["Type"]), canonical(record_set["AliasTarget"].get("DNSName", ""))
        target_zone = self.zone_for(target, zones)
        if target_zone is not None and depth < MAX_CHAIN:
            found, _, _ = self.answer(target, qtype, target_zone, zones, depth + 1)
            out = []
            for rr in found:
                if QTYPE.get(rr.rtype) == qtype:
                    rr.rname = name
                    out.append(rr)
            return out
        if qtype in LOCAL_ADDRESS and self.local_target(target):
            return RR.fromZone(f"{name} {LOCAL_ALIAS_TTL} IN {qtype} {LOCAL_ADDRESS[qtype]}")  # type: ignore[no-any-return]
        return []

    @staticmethod
    def rrs(name: str, record_set: RecordSet) -> list[RR]:
        """dnslib records for one record set's values (read as zone-file lines)."""
        ttl, rtype = int(record_set.get("TTL") or 300), record_set["Type"]
        out: list[RR] = []
        for value in record_set.get("ResourceRecords") or []:
            try:
                out += RR.fromZone(f"{name} {ttl} IN {rtype} {value}")
            except Exception as err:  # a value dnslib cannot read: say so, answer the others
                print(f"labkit dns: could not answer {rtype} {name} {value!r}: {err}", flush=True)
        return out


def serve(
    port: int,
    zones: Callable[[], list[Zone]] = ministack_zones,
    local_target: Callable[[str], bool] = ministack_distribution,
) -> list[DNSServer]:
    """Start the UDP and TCP servers on 127.0.0.1:``port`` (0: a port free for both), in daemon threads."""
    resolver = Route53Resolver(zones, local_target)
    logger = DNSLogger("-recv,-send,-request,-reply,-truncated,+error,-data", prefix=False)
    for _attempt in range(20):
        chosen = port or _free_udp_port()
        try:
            udp = DNSServer(resolver, address=HOST, port=chosen, logger=logger)
        except OSError:
            if port:
                raise
            continue
        try:
            tcp = DNSServer(resolver, address=HOST, port=chosen, tcp=True, logger=logger)
        except OSError:
            udp.server.server_close()
            if port:
                raise
            continue
        for server in (udp, tcp):
            server.server.daemon_threads = True
            server.start_thread()
        return [udp, tcp]
    raise OSError("no port on 127.0.0.1 was free for both UDP and TCP")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def stop(servers: list[DNSServer]) -> None:
    for server in servers:
        server.stop()
        server.server.server_close()
