"""The caller's address: X-Forwarded-For is believed only when it comes from a trusted proxy."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_ip(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted hops; the first other hop is the client."""
    peer = peer or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer
