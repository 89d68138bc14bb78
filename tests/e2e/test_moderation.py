"""Moderation through the real processes (ARCHITECTURE.md: Operators): a ban takes the user out of a
listener's Top 10 and out of /top on two API processes, unban brings them back; an approved
adjustment reaches a listener's Top 10; a cheater is quarantined by the worker's detector.
The contract's delays (2 s, 10 s) are measured and printed; the waits are generous."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.processes import ServiceProcess
from tests.e2e.stacks import two_apis
from tests.e2e.tops import WAIT_S, Top, poll_top, watch_top
from tests.factories import Player

pytestmark = pytest.mark.e2e
ROOT, SECOND = Player("Root", admin=True), Player("Second", admin=True)


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    rules = {
        "SCOREBOARD_ANOMALY_RULES": json.dumps({"overall": {"per_minute": 45}}),
        "SCOREBOARD_RATE_LIMIT_USER_PER_MIN": "1000",
    }
    with two_apis(database_url, redis_url, tmp_path, rules) as services:
        yield services


def names(top: Top) -> list[tuple[str, int]]:
    return [(entry["displayName"], entry["rank"]) for entry in top]


async def admin(api: httpx.AsyncClient, path: str, body: dict[str, Any], by: Player = ROOT) -> dict[str, Any]:
    answer = await api.post(path, json={"reason": "e2e"} | body, headers=by.headers())
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


async def measured(
    stack: dict[str, ServiceProcess], until: Callable[[Top], bool], act: Callable[[], Any]
) -> list[float]:
    """Act once a listener is attached; how long until the stream and both APIs show `until`."""
    connected = asyncio.Event()
    live = asyncio.create_task(watch_top(stack["gateway"].url, until, connected))
    await asyncio.wait_for(connected.wait(), WAIT_S)
    started = time.monotonic()
    await act()
    seen = await asyncio.gather(live, poll_top(stack["api1"].url, until), poll_top(stack["api2"].url, until))
    return [round(moment - started, 3) for moment in seen]


async def test_a_ban_takes_the_user_out_of_every_top_10_and_an_unban_brings_them_back(
    stack: dict[str, ServiceProcess],
) -> None:
    ann, bob, cyd = Player("Ann"), Player("Bob"), Player("Cyd")
    async with httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as api:
        for player, times in ((ann, 3), (bob, 2), (cyd, 1)):
            for _ in range(times):
                assert (await player.play(api, "quiz")).status_code == 200
        everyone = [("Ann", 1), ("Bob", 2), ("Cyd", 3)]
        await poll_top(stack["api2"].url, lambda top: names(top) == everyone)

        banned = await measured(
            stack,
            lambda top: names(top) == [("Ann", 1), ("Cyd", 2)],
            lambda: admin(api, f"/api/admin/users/{bob.user_id}/ban", {}),
        )
        refused = await api.post("/api/actions", json={"type": "quiz"}, headers=bob.headers())
        assert (refused.status_code, refused.json()["details"]["reason"]) == (403, "user_banned")
        unbanned = await measured(
            stack,
            lambda top: names(top) == everyone,
            lambda: admin(api, f"/api/admin/users/{bob.user_id}/unban", {}),
        )
    print(f"ban seen by the stream, api1, api2 after {banned} s; unban after {unbanned} s")


async def test_an_approved_adjustment_reaches_a_listeners_top_10(stack: dict[str, ServiceProcess]) -> None:
    ann, bob = Player("Ann"), Player("Bob")
    async with httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as api:
        for player, times in ((ann, 2), (bob, 1)):
            for _ in range(times):
                assert (await player.play(api, "quiz")).status_code == 200
        await poll_top(stack["api2"].url, lambda top: names(top) == [("Ann", 1), ("Bob", 2)])
        pending = await admin(
            api, "/api/admin/adjustments", {"userId": str(bob.user_id), "board": "global", "delta": 25}
        )

        seen = await measured(
            stack,
            lambda top: [(e["displayName"], e["score"]) for e in top] == [("Bob", 35), ("Ann", 20)],
            lambda: admin(api, f"/api/admin/adjustments/{pending['id']}/approve", {}, by=SECOND),
        )
    print(f"an approved adjustment reached the stream, api1, api2 after {seen} s")


async def test_a_cheater_is_quarantined_by_the_worker_within_10_s(stack: dict[str, ServiceProcess]) -> None:
    ann, bot = Player("Ann"), Player("Bot")
    async with httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as api:
        assert (await ann.play(api, "quiz")).status_code == 200
        for _ in range(4):
            assert (await bot.play(api, "quiz")).status_code == 200
        await poll_top(stack["api1"].url, lambda top: ("Bot", 1) in names(top))

        crossed = time.monotonic()
        assert (await bot.play(api, "quiz")).status_code == 200  # 50 points in a minute: over 45
        hidden = await poll_top(stack["api2"].url, lambda top: names(top) == [("Ann", 1)])
        reviews = (await api.get("/api/admin/reviews?status=open", headers=ROOT.headers())).json()["items"]
        assert [(r["displayName"], r["rule"]) for r in reviews] == [("Bot", "overall.per_minute")]
        mine = (await api.get("/api/scores/me", headers=bot.headers())).json()
        assert (mine["score"], mine["rank"]) == (50, 1)
    print(f"the crossing was quarantined and hidden from /top after {hidden - crossed:.3f} s")
