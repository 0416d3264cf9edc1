"""Where lesson 10 sends its DNS queries: a dnspython resolver pointed at the zone's authoritative server.

On the embedded backend that is labkit's DNS server for Route 53's zones, at ``LABKIT_DNS_RESOLVER``
(``127.0.0.1:<port>``, set by ``labkit.connect()``). On real AWS it is one of the hosted zone's own Route 53
name servers (its delegation set), asked directly on port 53, so the lesson's names answer even though
``example.com`` was never delegated to them. The queries themselves (``resolver.resolve(...)``) are the
lesson's cells; this module only says where to send them, and prints the same question as a ``dig`` line.
"""

from __future__ import annotations

import os
import socket

import dns.resolver

RESOLVER_SETTING = "LABKIT_DNS_RESOLVER"


def authoritative_resolver(lab, name_servers: list[str]) -> dns.resolver.Resolver | None:
    """A resolver that asks the zone's authoritative server; None where this backend has none to ask."""
    return resolver_for(name_servers, lab.is_emulator)


def resolver_for(name_servers: list[str], emulator: bool | None = None) -> dns.resolver.Resolver | None:
    """``authoritative_resolver`` without a lab: an emulator is a backend reached at ``AWS_ENDPOINT_URL``."""
    if emulator is None:
        emulator = bool(os.environ.get("AWS_ENDPOINT_URL"))
    resolver = dns.resolver.Resolver(configure=False)
    resolver.lifetime = 5.0
    setting = os.environ.get(RESOLVER_SETTING, "")
    if emulator:
        if not setting:
            return None
        host, _, port = setting.rpartition(":")
        resolver.nameservers, resolver.port = [host], int(port)
        return resolver
    resolver.nameservers = [socket.gethostbyname(name_servers[0].rstrip("."))]
    return resolver


def dig_line(resolver: dns.resolver.Resolver, name: str, rtype: str = "A") -> str:
    """The same question as a ``dig`` command line (dig is in most systems' DNS tools package)."""
    port = f" -p {resolver.port}" if resolver.port != 53 else ""
    return f"dig @{resolver.nameservers[0]}{port} {name} {rtype}"
