"""Personal data stays out of logs."""

from __future__ import annotations

import pytest

from scoreboard.security.masking import mask_ip, mask_user_agent


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:1234::1", "2001:db8:abcd::/48"),
        (None, "-"),
        ("", "-"),
        ("not an ip", "invalid"),
    ],
)
def test_mask_ip_keeps_only_the_network_prefix(address: str | None, masked: str) -> None:
    assert mask_ip(address) == masked


def test_masked_ip_never_contains_the_host_part() -> None:
    assert "77" not in mask_ip("203.0.113.77")


def test_mask_user_agent_keeps_the_product_token_only() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert mask_user_agent(ua) == "Mozilla/5.0"


def test_mask_user_agent_is_bounded() -> None:
    assert len(mask_user_agent("x" * 500)) == 32


@pytest.mark.parametrize("empty", [None, ""])
def test_mask_user_agent_of_nothing_is_a_dash(empty: str | None) -> None:
    assert mask_user_agent(empty) == "-"
