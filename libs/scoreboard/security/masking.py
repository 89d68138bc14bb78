"""Keep personal data out of logs: masked IPs and user agents."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address, ip_network


def mask_ip(address: str | None) -> str:
    if not address:
        return "-"
    try:
        parsed = ip_address(address)
    except ValueError:
        return "invalid"
    prefix = 24 if isinstance(parsed, IPv4Address) else 48
    return str(ip_network(f"{parsed}/{prefix}", strict=False).network_address) + f"/{prefix}"


def mask_user_agent(user_agent: str | None) -> str:
    if not user_agent:
        return "-"
    product = user_agent.split(" ", 1)[0]
    return product[:32]
