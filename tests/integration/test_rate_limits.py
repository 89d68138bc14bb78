"""Rate limits on the write path (ARCHITECTURE.md: Write API): sliding windows per user and per IP, before any
database work, honest Retry-After, no evasion through X-Forwarded-For, and a local stand-in while
Redis is down (never fail open, never block every write)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import asyncpg
import httpx

from tests.factories import Player
from tests.integration.test_write_security import (
    INCREMENT,
    assert_error,
    database_down_url,
    minted_ticket,
    redis_down_url,
    user_state,
)


async def increment(api: httpx.AsyncClient, player: Player, ip: str | None = None) -> httpx.Response:
    """One fresh action; the ticket is minted with the server secret, so /api/actions' limits stay out."""
    ticket = minted_ticket(player, "default", int(time.time() * 1000))
    headers, body = player.signed(ticket)
    if ip is not None:
        headers["x-forwarded-for"] = ip
    return await api.post(INCREMENT, json=body, headers=headers)


def assert_rate_limited(response: httpx.Response, scope: str) -> None:
    details = assert_error(response, 429, "RATE_LIMITED")["details"]
    assert details.get("scope") == scope, details
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.headers.get("ratelimit-policy"), response.headers
    assert re.search(r";r=0\b", response.headers["ratelimit"]), response.headers["ratelimit"]


async def ips_recorded(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return {str(row["ip"]) for row in await connection.fetch("SELECT host(ip) AS ip FROM score_events")}
    finally:
        await connection.close()


async def test_sixth_increment_of_a_user_is_429(api_factory: Any, database_url: str) -> None:
    api = await api_factory(rate_limit_user_per_min=5)
    alice = Player()

    started = time.monotonic()
    admitted = [await increment(api, alice) for _ in range(5)]
    refused = await increment(api, alice)
    hammering = [await increment(api, alice) for _ in range(3)]
    elapsed = time.monotonic() - started

    assert [r.status_code for r in admitted] == [200] * 5, [r.text for r in admitted]
    # Honest Retry-After: the first admitted request leaves the 60 s window only about 60 s from now,
    # and refused requests do not push that moment back.
    waits = [int(r.headers["retry-after"]) for r in [refused, *hammering]]
    assert waits[0] >= 60 - elapsed - 1
    assert waits == sorted(waits, reverse=True)
    for response in hammering:
        assert_rate_limited(response, "user")
    for response in admitted:
        assert re.search(r'"increment-user";q=5;w=60', response.headers["ratelimit-policy"])
        assert response.headers.get("ratelimit")
    remaining = [int(re.search(r";r=(\d+)", r.headers["ratelimit"])[1]) for r in admitted]  # type: ignore[index]
    assert remaining == [4, 3, 2, 1, 0]
    assert_rate_limited(refused, "user")
    assert await user_state(database_url, alice.user_id) == (5, 5)
    # Another user is not affected by Alice's limit.
    assert (await increment(api, Player("Bob"))).status_code == 200


async def test_user_limit_comes_before_body_validation(api_factory: Any) -> None:
    api = await api_factory(rate_limit_user_per_min=2)
    alice = Player()
    for _ in range(2):
        assert (await increment(api, alice)).status_code == 200
    response = await api.post(INCREMENT, content=b"{not json", headers=alice.headers())
    assert_rate_limited(response, "user")


async def test_rotating_ips_does_not_evade_the_user_limit(api_factory: Any, database_url: str) -> None:
    api = await api_factory(rate_limit_user_per_min=5)
    alice = Player()
    responses = [await increment(api, alice, ip=f"203.0.113.{index + 1}") for index in range(8)]

    assert [r.status_code for r in responses[:5]] == [200] * 5
    for response in responses[5:]:
        assert_rate_limited(response, "user")
    assert await user_state(database_url, alice.user_id) == (5, 5)
    assert await ips_recorded(database_url) == {f"203.0.113.{index + 1}" for index in range(5)}


async def test_many_users_behind_one_ip_hit_the_ip_limit(api_factory: Any, database_url: str) -> None:
    api = await api_factory(rate_limit_ip_per_min=5)
    users = [Player(f"User {index}") for index in range(7)]

    responses = [await increment(api, user, ip="192.0.2.10") for user in users]

    assert [r.status_code for r in responses[:5]] == [200] * 5
    for user, response in zip(users[5:], responses[5:], strict=True):
        assert_rate_limited(response, "ip")
        assert await user_state(database_url, user.user_id) == (None, 0)
    # The limit is the IP's: the same refused user from another address gets through.
    assert (await increment(api, users[5], ip="192.0.2.11")).status_code == 200


async def test_ip_limit_comes_before_authentication(api_factory: Any) -> None:
    api = await api_factory(rate_limit_ip_per_min=3)
    for _ in range(3):
        assert (
            await api.post(INCREMENT, json={}, headers={"x-forwarded-for": "192.0.2.20"})
        ).status_code == 401
    response = await api.post(INCREMENT, json={}, headers={"x-forwarded-for": "192.0.2.20"})
    assert_rate_limited(response, "ip")


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(api_factory: Any, database_url: str) -> None:
    api = await api_factory(trusted_proxies=[], rate_limit_ip_per_min=5)
    users = [Player(f"User {index}") for index in range(6)]

    responses = [await increment(api, user, ip=f"198.51.100.{index + 1}") for index, user in enumerate(users)]

    assert [r.status_code for r in responses[:5]] == [200] * 5
    assert_rate_limited(responses[5], "ip")
    assert await ips_recorded(database_url) == {"127.0.0.1"}


async def test_forwarded_for_chain_from_a_trusted_proxy_uses_the_first_untrusted_hop(
    api_factory: Any, database_url: str
) -> None:
    api = await api_factory(rate_limit_ip_per_min=2)
    alice = Player()
    # The client spoofs a leftmost hop; the trusted proxy appends the address it actually saw.
    spoofed = [f"10.9.8.{index}, 192.0.2.30" for index in range(3)]
    responses = [await increment(api, alice, ip=chain) for chain in spoofed]

    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert_rate_limited(responses[2], "ip")
    assert await ips_recorded(database_url) == {"192.0.2.30"}


async def test_redis_down_the_local_limiter_takes_over(api_factory: Any, database_url: str) -> None:
    api = await api_factory(redis_url=redis_down_url(), rate_limit_user_per_min=5)
    alice = Player()

    admitted = [await increment(api, alice) for _ in range(5)]
    refused = await increment(api, alice)

    # Writes keep working on PostgreSQL alone, and the limit still holds.
    assert [r.status_code for r in admitted] == [200] * 5, [r.text for r in admitted]
    assert [r.json()["newScore"] for r in admitted] == [1, 2, 3, 4, 5]
    assert_rate_limited(refused, "user")
    assert await user_state(database_url, alice.user_id) == (5, 5)


async def test_redis_down_the_local_ip_limit_holds_too(api_factory: Any) -> None:
    api = await api_factory(redis_url=redis_down_url(), rate_limit_ip_per_min=3)
    responses = [await increment(api, Player(f"User {index}"), ip="192.0.2.40") for index in range(4)]
    assert [r.status_code for r in responses[:3]] == [200] * 3
    assert_rate_limited(responses[3], "ip")


async def test_limits_apply_before_any_database_work(api_factory: Any) -> None:
    api = await api_factory(database_url=database_down_url(), rate_limit_user_per_min=2)
    alice = Player()
    first = [await increment(api, alice) for _ in range(2)]
    for response in first:
        assert_error(response, 503, "UNAVAILABLE")
    assert_rate_limited(await increment(api, alice), "user")


async def test_limits_are_per_user_not_per_token(api_factory: Any) -> None:
    api = await api_factory(rate_limit_user_per_min=3)
    alice = Player()
    same_user_new_names = [Player(f"Alias {index}", user_id=alice.user_id) for index in range(4)]
    responses = [await increment(api, alias) for alias in same_user_new_names]
    assert [r.status_code for r in responses[:3]] == [200] * 3
    assert_rate_limited(responses[3], "user")
    assert uuid.UUID(responses[0].json()["userId"]) == alice.user_id
