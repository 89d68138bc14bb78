"""X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

from ipaddress import ip_network

from scoreboard.web.client_ip import client_ip

PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def test_peer_is_the_client_when_there_is_no_forwarded_header() -> None:
    assert client_ip("203.0.113.7", None, PROXIES) == "203.0.113.7"


def test_forwarded_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_ip("203.0.113.7", "1.2.3.4", PROXIES) == "203.0.113.7"


def test_forwarded_header_is_ignored_when_no_proxy_is_configured() -> None:
    assert client_ip("10.0.0.1", "1.2.3.4", []) == "10.0.0.1"


def test_forwarded_header_from_a_trusted_proxy_names_the_client() -> None:
    assert client_ip("10.0.0.1", "198.51.100.9", PROXIES) == "198.51.100.9"


def test_spoofed_leftmost_hops_are_not_believed() -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; our proxy appended the real address.
    assert client_ip("10.0.0.1", "6.6.6.6, 198.51.100.9", PROXIES) == "198.51.100.9"


def test_trusted_hops_on_the_right_are_skipped() -> None:
    assert client_ip("10.0.0.1", "198.51.100.9, 10.1.1.1, 10.2.2.2", PROXIES) == "198.51.100.9"


def test_ipv6_hops_and_proxies_work() -> None:
    assert client_ip("fd00::1", "2001:db8::5, fd00::2", PROXIES) == "2001:db8::5"


def test_garbage_hop_falls_back_to_the_peer() -> None:
    assert client_ip("10.0.0.1", "not-an-ip", PROXIES) == "10.0.0.1"


def test_missing_peer_gets_a_placeholder() -> None:
    assert client_ip(None, "1.2.3.4", PROXIES) == "0.0.0.0"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_ip("10.0.0.1", "10.9.9.9, 10.8.8.8", PROXIES) == "10.9.9.9"


def test_empty_forwarded_list_gives_the_peer() -> None:
    assert client_ip("10.0.0.1", " , ", PROXIES) == "10.0.0.1"
