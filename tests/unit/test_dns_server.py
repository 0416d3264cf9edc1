"""The DNS server for Route 53's zones (labkit/backends/embedded/dns_server.py), over real UDP and TCP."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from labkit.backends.embedded import dns_server

ZONE = "shop.example.com."
SOA = "ns-1.awsdns-1.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"


def _zone() -> dns_server.Zone:
    return dns_server.Zone(
        ZONE,
        [
            {"Name": ZONE, "Type": "SOA", "TTL": "900", "ResourceRecords": [SOA]},
            {"Name": ZONE, "Type": "NS", "TTL": "172800", "ResourceRecords": ["ns-1.awsdns-1.com."]},
            {
                "Name": "www.shop.example.com.",
                "Type": "A",
                "TTL": "60",
                "ResourceRecords": ["192.0.2.10", "192.0.2.11"],
            },
            {"Name": "www.shop.example.com.", "Type": "AAAA", "TTL": "60", "ResourceRecords": ["2001:db8::10"]},
            {
                "Name": "store.shop.example.com.",
                "Type": "CNAME",
                "TTL": "300",
                "ResourceRecords": ["www.shop.example.com"],
            },
            {
                "Name": "away.shop.example.com.",
                "Type": "CNAME",
                "TTL": "300",
                "ResourceRecords": ["elsewhere.example.net"],
            },
            {"Name": ZONE, "Type": "MX", "TTL": "3600", "ResourceRecords": ["10 mail.shop.example.com"]},
            {"Name": ZONE, "Type": "TXT", "TTL": "300", "ResourceRecords": ['"v=spf1 -all"']},
            {
                "Name": "apex-alias.shop.example.com.",
                "Type": "A",
                "AliasTarget": {
                    "HostedZoneId": "Z1",
                    "DNSName": "www.shop.example.com.",
                    "EvaluateTargetHealth": False,
                },
            },
            {
                "Name": "cdn.shop.example.com.",
                "Type": "A",
                "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d123.cloudfront.net."},
            },
            {"Name": "\\052.dev.shop.example.com.", "Type": "A", "TTL": "30", "ResourceRecords": ["192.0.2.50"]},
            {"Name": "a.b.shop.example.com.", "Type": "A", "TTL": "30", "ResourceRecords": ["192.0.2.60"]},
            *(
                {
                    "Name": "split.shop.example.com.",
                    "Type": "A",
                    "TTL": "10",
                    "SetIdentifier": ident,
                    "Weight": weight,
                    "ResourceRecords": [address],
                }
                for ident, weight, address in (("blue", 0, "192.0.2.1"), ("green", 100, "192.0.2.2"))
            ),
        ],
    )


@pytest.fixture(scope="module")
def server():
    zones = [_zone()]
    started = dns_server.serve(0, lambda: zones, lambda name: name == "d123.cloudfront.net.")
    yield zones, started[0].server.server_address[1], started
    dns_server.stop(started)


def _resolver(port: int) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], port
    return resolver


def _ask(port: int, name: str, rtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    ask = dns.query.tcp if tcp else dns.query.udp
    return ask(query, "127.0.0.1", port=port, timeout=3)


def test_binds_127_0_0_1_only_on_udp_and_tcp(server):
    _, port, started = server
    assert [s.server.server_address for s in started] == [("127.0.0.1", port), ("127.0.0.1", port)]
    assert [s.server.socket.type.name for s in started] == ["SOCK_DGRAM", "SOCK_STREAM"]


def test_a_record_with_its_ttl_and_authority_flag(server):
    _, port, _ = server
    reply = _ask(port, "www.shop.example.com", "A")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    (rrset,) = reply.answer
    assert sorted(r.address for r in rrset) == ["192.0.2.10", "192.0.2.11"] and rrset.ttl == 60


def test_tcp_answers_the_same(server):
    _, port, _ = server
    assert [r.address for r in _ask(port, "www.shop.example.com", "AAAA", tcp=True).answer[0]] == ["2001:db8::10"]


def test_cname_is_followed_within_the_zones(server):
    _, port, _ = server
    answer = _resolver(port).resolve("store.shop.example.com", "A")
    assert [str(r) for r in answer.response.answer] == [
        "store.shop.example.com. 300 IN CNAME www.shop.example.com.",
        "www.shop.example.com. 60 IN A 192.0.2.10\nwww.shop.example.com. 60 IN A 192.0.2.11",
    ]
    away = _ask(port, "away.shop.example.com", "A")
    assert [str(r) for r in away.answer] == ["away.shop.example.com. 300 IN CNAME elsewhere.example.net."]


def test_mx_txt_and_the_zones_own_records(server):
    _, port, _ = server
    resolver = _resolver(port)
    assert [(r.preference, str(r.exchange)) for r in resolver.resolve(ZONE, "MX")] == [(10, "mail.shop.example.com.")]
    assert [r.strings for r in resolver.resolve(ZONE, "TXT")] == [(b"v=spf1 -all",)]
    assert [str(r.mname) for r in resolver.resolve(ZONE, "SOA")] == ["ns-1.awsdns-1.com."]


def test_alias_answers_its_targets_records_under_its_own_name(server):
    _, port, _ = server
    reply = _ask(port, "apex-alias.shop.example.com", "A")
    (rrset,) = reply.answer
    assert str(rrset.name) == "apex-alias.shop.example.com." and rrset.rdtype == dns.rdatatype.A
    assert sorted(r.address for r in rrset) == ["192.0.2.10", "192.0.2.11"] and rrset.ttl == 60
    local = _ask(port, "cdn.shop.example.com", "A").answer[0]
    assert [r.address for r in local] == ["127.0.0.1"] and local.ttl == dns_server.LOCAL_ALIAS_TTL


def test_unknown_name_is_nxdomain_with_the_zones_soa(server):
    _, port, _ = server
    reply = _ask(port, "never-made.shop.example.com", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.answer == []
    (soa,) = reply.authority
    assert soa.rdtype == dns.rdatatype.SOA and str(soa.name) == ZONE and soa.ttl == 900
    with pytest.raises(dns.resolver.NXDOMAIN):
        _resolver(port).resolve("never-made.shop.example.com", "A")


def test_existing_name_without_that_type_is_nodata(server):
    _, port, _ = server
    reply = _ask(port, "store.shop.example.com", "MX")  # a CNAME is there, no MX: follows to www, which has none
    assert reply.rcode() == dns.rcode.NOERROR
    empty = _ask(port, "b.shop.example.com", "A")  # a name with only a name below it
    assert empty.rcode() == dns.rcode.NOERROR and empty.answer == [] and empty.authority[0].rdtype == dns.rdatatype.SOA


def test_names_outside_every_zone_are_refused(server):
    _, port, _ = server
    assert _ask(port, "example.org", "A").rcode() == dns.rcode.REFUSED
    assert _ask(port, "notshop.example.com", "A").rcode() == dns.rcode.REFUSED


def test_wildcard_covers_names_below_it(server):
    _, port, _ = server
    assert [r.address for r in _ask(port, "anything.dev.shop.example.com", "A").answer[0]] == ["192.0.2.50"]


def test_weighted_records_answer_one_set_by_weight(server):
    _, port, _ = server
    seen = {_ask(port, "split.shop.example.com", "A").answer[0][0].address for _ in range(20)}
    assert seen == {"192.0.2.2"}  # weight 0 against 100: never the blue one


def test_all_zero_weights_are_equal(server):
    zones, _, _ = server
    chosen = []

    def choose(sets, weights):
        chosen.append(weights)
        return sets[0]

    resolver = dns_server.Route53Resolver(lambda: zones, choose=choose)
    sets = [{"SetIdentifier": n, "Weight": 0, "Type": "A"} for n in "ab"]
    assert resolver.pick(sets) == [sets[0]] and chosen == [[1.0, 1.0]]


def test_answers_follow_the_record_sets_as_they_change(server):
    zones, port, _ = server
    record = next(r for r in zones[0].records if r["Name"] == "a.b.shop.example.com.")
    assert [r.address for r in _ask(port, "a.b.shop.example.com", "A").answer[0]] == ["192.0.2.60"]
    record["ResourceRecords"] = ["192.0.2.61"]
    try:
        assert [r.address for r in _ask(port, "a.b.shop.example.com", "A").answer[0]] == ["192.0.2.61"]
    finally:
        record["ResourceRecords"] = ["192.0.2.60"]


def test_longest_zone_wins():
    parent, child = dns_server.Zone("example.com"), dns_server.Zone("Shop.Example.com")
    assert dns_server.Route53Resolver.zone_for("www.shop.example.com.", [parent, child]) is child
    assert dns_server.Route53Resolver.zone_for("example.com.", [parent, child]) is parent


def test_a_dns_port_taken_on_udp_is_one_clear_error():
    import socket

    from labkit.backends.embedded import lifecycle
    from labkit.errors import PortInUse

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} .* LABKIT_DNS_PORT=0"):
            lifecycle._choose_dns_port(port)
    chosen = lifecycle._choose_dns_port(0)
    assert chosen > 0 and chosen != port


def test_the_resolver_address_is_in_the_state_and_the_sdk_settings(monkeypatch, tmp_path):
    import json

    from labkit.backends.embedded import backend, lifecycle

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    server = {"name": "ministack", "pid": 1, "port": 4600, "version": "x"}
    old = {"ministack": server, "moto": {**server, "name": "moto", "port": 4601}, "started_at": 0}
    (tmp_path / lifecycle.STATE_FILE).write_text(json.dumps(old))  # written before the DNS server existed
    state = lifecycle.read_state()
    assert state is not None and state.dns_port == 0 and backend.dns_env(state) == {}
    (tmp_path / lifecycle.STATE_FILE).write_text(json.dumps({**old, "dns_port": 4653}))
    state = lifecycle.read_state()
    assert backend.dns_env(state) == {"LABKIT_DNS_RESOLVER": "127.0.0.1:4653"}
