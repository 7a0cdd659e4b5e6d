"""Which network addresses are public: a pure rule (no I/O), shared by the egress transport
and by domain checks of callback URLs."""

from __future__ import annotations

import ipaddress


def is_public_address(address: str) -> bool:
    """Globally routable unicast: not private, loopback, link-local, shared (100.64/10),
    reserved, unspecified or multicast; an IPv4 address written as IPv6 is judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
