"""Bans (ARCHITECTURE.md: Operators): a banned user leaves every board's reads and Top 10s (the ranks
below close up), is refused increments, tickets and their own reads (403 user_banned); unban
brings them back with their scores. Every API process refuses them within its refresh."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from scoreboard.redis_store import events
from scoreboard.redis_store.keys import JOB_QUEUE
from services.worker import reconciler
from services.worker.context import WorkerContext
from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_adjustments import (
    APPROVER,
    BOARDS,
    HIGH_LIMITS,
    api,
    boards_worker,
    run_queued,
    top,
)
from tests.integration.test_write_security import assert_error
from tests.servers import queue_client
from tests.waiting import eventually

__all__ = ["api", "boards_worker"]  # fixtures shared with test_adjustments

ROOT = APPROVER


async def set_banned(api: httpx.AsyncClient, user: uuid.UUID | str, verb: str) -> httpx.Response:
    return await api.post(
        f"/api/admin/users/{user}/{verb}", json={"reason": "cheating, OPS-7"}, headers=ROOT.headers()
    )


async def latest_top10(worker: WorkerContext, board: str) -> list[tuple[str, int, int]]:
    window = worker.boards[board].window_at(datetime.now(UTC)).id
    await worker.publisher.publish_if_changed(board, window, force_wait=True)
    tops = [orjson.loads(e.data) for e in await events.range_after(worker.redis, "0-0", "+", count=10_000)]
    latest = [t for t in tops if t["type"] == "leaderboard_updated" and t["board"] == board][-1]
    return [(row["displayName"], row["score"], row["rank"]) for row in latest["top10"]]


async def play_ladder(api: httpx.AsyncClient, worker: WorkerContext, queue_url: str) -> list[Player]:
    """Ann 30, Bob 20, Cyd 10 on both boards, copied to Redis."""
    players = [Player("Ann"), Player("Bob"), Player("Cyd")]
    for player, times in zip(players, (3, 2, 1), strict=True):
        for _ in range(times):
            assert (await player.play(api, "quiz")).status_code == 200
    await run_queued(worker, queue_url)
    return players


async def test_a_banned_user_leaves_every_board_and_may_not_play_until_unbanned(
    api: httpx.AsyncClient, boards_worker: WorkerContext, queue_redis_url: str
) -> None:
    _, bob, cyd = await play_ladder(api, boards_worker, queue_redis_url)
    assert await latest_top10(boards_worker, "daily") == [("Ann", 30, 1), ("Bob", 20, 2), ("Cyd", 10, 3)]
    taken_before = await bob.ticket(api, "quiz")

    banned = await set_banned(api, bob.user_id, "ban")
    assert banned.status_code == 200, banned.text
    assert banned.json() == {"userId": str(bob.user_id), "state": "banned"}
    await run_queued(boards_worker, queue_redis_url)

    for board in ("global", "daily"):
        assert await top(api, board) == [("Ann", 30), ("Cyd", 10)]
        assert await latest_top10(boards_worker, board) == [("Ann", 30, 1), ("Cyd", 10, 2)]  # ranks close up
    around = (await api.get("/api/leaderboard/around/me", headers=cyd.headers())).json()
    assert (around["rank"], [entry["displayName"] for entry in around["entries"]]) == (2, ["Ann", "Cyd"])
    assert_error(
        await api.post("/api/actions", json={"type": "quiz"}, headers=bob.headers()),
        403,
        "UNAUTHORIZED",
        "user_banned",
    )
    headers, body = bob.signed(taken_before)  # a ticket taken before the ban is no way around it
    response = await api.post("/api/scores/increment", json=body, headers=headers)
    assert_error(response, 403, "UNAUTHORIZED", "user_banned")
    for path in ("/api/scores/me", "/api/leaderboard/around/me"):
        assert_error(await api.get(path, headers=bob.headers()), 403, "UNAUTHORIZED", "user_banned")

    assert (await set_banned(api, bob.user_id, "unban")).json() == {
        "userId": str(bob.user_id),
        "state": "visible",
    }
    await run_queued(boards_worker, queue_redis_url)
    assert await top(api, "daily") == [("Ann", 30), ("Bob", 20), ("Cyd", 10)]
    assert await latest_top10(boards_worker, "global") == [("Ann", 30, 1), ("Bob", 20, 2), ("Cyd", 10, 3)]
    assert (await bob.play(api, "quiz")).json()["newScore"] == 30
    actions = [
        item["action"] for item in (await api.get("/api/admin/audit", headers=ROOT.headers())).json()["items"]
    ]
    assert actions == ["user.unban", "user.ban"]


async def test_without_the_job_the_worker_feed_hides_the_user(
    api: httpx.AsyncClient, boards_worker: WorkerContext, queue_redis_url: str
) -> None:
    ann, _, _ = await play_ladder(api, boards_worker, queue_redis_url)
    assert (await set_banned(api, ann.user_id, "ban")).status_code == 200
    queue = queue_client(queue_redis_url)
    await queue.delete(JOB_QUEUE)  # the job is lost
    await queue.aclose()

    await reconciler.reconcile({"scoreboard": boards_worker})

    assert await top(api) == [("Bob", 20), ("Cyd", 10)]


async def test_another_api_process_refuses_the_banned_user_within_its_refresh(
    api_factory: ApiClientFactory, boards_worker: WorkerContext
) -> None:
    deciding = await api_factory(boards=BOARDS, **HIGH_LIMITS)
    elsewhere = await api_factory(boards=BOARDS, **HIGH_LIMITS)
    mallory = Player("Mallory")
    assert (await mallory.play(elsewhere)).status_code == 200

    assert (await set_banned(deciding, mallory.user_id, "ban")).status_code == 200

    async def ticket_status() -> int:
        return (
            await elsewhere.post("/api/actions", json={"type": "default"}, headers=mallory.headers())
        ).status_code

    assert await eventually(ticket_status, lambda status: status == 403)


async def test_bad_ban_requests_are_4xx_and_change_nothing(
    api: httpx.AsyncClient, boards_worker: WorkerContext
) -> None:
    ann = Player("Ann")
    assert (await ann.play(api)).status_code == 200
    assert_error(await set_banned(api, uuid.uuid4(), "ban"), 404, "NOT_FOUND")
    assert_error(await set_banned(api, "not-a-uuid", "ban"), 400, "VALIDATION_ERROR")
    assert_error(await set_banned(api, ann.user_id, "unban"), 409, "CONFLICT", "not_banned")
    for body in ({}, {"reason": ""}, {"reason": "y" * 10_000}, {"reason": "r", "until": "tomorrow"}):
        response = await api.post(f"/api/admin/users/{ann.user_id}/ban", json=body, headers=ROOT.headers())
        assert_error(response, 400, "VALIDATION_ERROR")
    assert (await set_banned(api, ann.user_id, "ban")).status_code == 200
    assert_error(await set_banned(api, ann.user_id, "ban"), 409, "CONFLICT", "already_banned")
    audit: list[dict[str, Any]] = (await api.get("/api/admin/audit", headers=ROOT.headers())).json()["items"]
    assert [item["action"] for item in audit] == ["user.ban"]
