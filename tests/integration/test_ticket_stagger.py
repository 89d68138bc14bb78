"""min_seconds is a rate: tickets collected in advance are staggered, across API processes and
while Redis is away (the attack round's 20-tickets-at-once case)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from tests.factories import ACTION_TYPES, Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_write_security import INCREMENT, assert_error, redis_down_url, user_state

STAGGERED = ACTION_TYPES | {
    "sprint": {"points": 5, "min_seconds": 1, "ttl_seconds": 60},
    "short": {"points": 1, "min_seconds": 1, "ttl_seconds": 3},
}
HIGH_LIMITS = {"rate_limit_user_per_min": 10_000, "rate_limit_ip_per_min": 100_000}


async def take(api: httpx.AsyncClient, player: Player, kind: str) -> dict[str, Any]:
    return await player.ticket(api, kind)


def gaps(tickets: list[dict[str, Any]]) -> list[int]:
    starts = sorted(ticket["notBefore"] for ticket in tickets)
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


async def test_tickets_taken_at_once_are_redeemable_one_per_min_seconds(
    api_factory: ApiClientFactory, database_url: str
) -> None:
    api = await api_factory(action_types=STAGGERED, **HIGH_LIMITS)
    hoarder = Player("Hoarder")
    tickets = [await take(api, hoarder, "sprint") for _ in range(20)]
    assert min(gaps(tickets)) >= 1000
    await asyncio.sleep(1.1)  # the first ticket's minimum has passed, and only its

    answers = []
    for ticket in tickets:
        headers, body = hoarder.signed(ticket)
        answers.append(await api.post(INCREMENT, json=body, headers=headers))

    assert [answer.status_code for answer in answers].count(200) == 1
    for refused in answers[1:]:
        assert_error(refused, 409, "ABUSE_REJECTED", "too_fast")
    assert await user_state(database_url, hoarder.user_id) == (5, 1)


async def test_the_stagger_holds_across_api_processes(api_factory: ApiClientFactory) -> None:
    first, second = [await api_factory(action_types=STAGGERED, **HIGH_LIMITS) for _ in range(2)]
    hoarder = Player("Hoarder")

    tickets = await asyncio.gather(*(take(api, hoarder, "sprint") for api in [first, second] * 5))

    assert min(gaps(list(tickets))) >= 1000


async def test_the_stagger_holds_within_a_process_while_redis_is_away(api_factory: ApiClientFactory) -> None:
    api = await api_factory(action_types=STAGGERED, redis_url=redis_down_url(), **HIGH_LIMITS)
    hoarder = Player("Hoarder")

    tickets = [await take(api, hoarder, "sprint") for _ in range(5)]

    assert min(gaps(tickets)) >= 1000


async def test_an_honest_player_is_never_delayed(api_factory: ApiClientFactory, database_url: str) -> None:
    api = await api_factory(action_types=STAGGERED, **HIGH_LIMITS)
    player = Player("Honest")
    for _ in range(2):
        ticket = await take(api, player, "sprint")
        assert ticket["notBefore"] - time.time() * 1000 <= 1000 + 50
        await asyncio.sleep(max(0.0, ticket["notBefore"] / 1000 - time.time()) + 0.02)
        headers, body = player.signed(ticket)
        assert (await api.post(INCREMENT, json=body, headers=headers)).status_code == 200
    assert await user_state(database_url, player.user_id) == (10, 2)


async def test_a_ticket_that_would_expire_before_its_turn_is_refused_with_retry_after(
    api_factory: ApiClientFactory,
) -> None:
    api = await api_factory(action_types=STAGGERED, **HIGH_LIMITS)
    hoarder = Player("Hoarder")
    granted = [await take(api, hoarder, "short") for _ in range(3)]  # 1 s, 2 s, 3 s ahead of a 3 s life

    refused = await api.post("/api/actions", json={"type": "short"}, headers=hoarder.headers())

    assert max(ticket["notBefore"] - ticket["expiresAt"] for ticket in granted) <= 0
    assert_error(refused, 429, "RATE_LIMITED")


async def test_types_without_a_minimum_are_never_staggered(api: httpx.AsyncClient) -> None:
    player = Player()
    tickets = [await take(api, player, "quiz") for _ in range(5)]
    assert all(ticket["notBefore"] <= time.time() * 1000 for ticket in tickets)
