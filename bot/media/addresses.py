"""Which addresses the bot may fetch media from, and which origins the operator trusts anyway.

A provider or webhook caller chooses the media URLs, so an address check is what stops them from making the bot
fetch (and post publicly) pages that are only reachable from its own host or network.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Ranges refused explicitly, so the answer does not depend on how a Python release defines `is_global`.
_NON_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast
    )
)
_NON_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/8",  # unspecified, loopback, IPv4-compatible and IPv4-translated forms
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, includes Teredo
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated but still routed by some networks)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: IPAddress | str) -> bool:
    """True only for a globally routable unicast address; anything unparsable is not public.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that IPv4 address, because the
    packet ends up there.
    """
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError:
            return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
        if ip.is_site_local or any(ip in net for net in _NON_PUBLIC_V6):
            return False
    elif any(ip in net for net in _NON_PUBLIC_V4):
        return False
    flagged = (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved
    )
    return ip.is_global and not flagged


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address forwards to, for the forms that do."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class Origin(NamedTuple):
    """Scheme, host and port of a URL; the unit of trust, as in browsers."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin_of(url: str | URL) -> Origin:
    """The origin of an http(s) URL; ValueError for anything else."""
    parsed = url if isinstance(url, URL) else URL(url)
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{str(url)!r} is not an http(s) URL")
    host = parsed.host
    if not host:
        raise ValueError(f"{str(url)!r} has no host")
    port = parsed.explicit_port or DEFAULT_PORTS[scheme]
    return Origin(scheme, host.lower(), port)


def parse_origin(text: str) -> Origin:
    """One `scheme://host[:port]` entry; a path, query, fragment or user name is a mistake, not ignored."""
    entry = text.strip()
    problem = f"{entry!r} is not an origin like https://cdn.example or http://127.0.0.1:8080"
    try:
        parsed = URL(entry)
        origin = origin_of(parsed)
    except ValueError as error:
        raise ValueError(problem) from error
    if parsed.path not in ("", "/") or parsed.query_string or parsed.fragment or parsed.user or parsed.password:
        raise ValueError(problem)
    return origin


def parse_origins(text: str) -> frozenset[Origin]:
    """A comma-separated list of origins (blank entries skipped), with the default port filled in."""
    return frozenset(parse_origin(entry) for entry in text.split(",") if entry.strip())
