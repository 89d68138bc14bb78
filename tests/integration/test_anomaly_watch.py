"""The anomaly watch on real servers (ARCHITECTURE.md: Operators): a user breaking a rule is quarantined
(hidden from others, still playing, seeing their own entry), a review is opened and audited; a
reviewer clears it (shown again, not flagged again at once) or bans the user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from scoreboard.db import score_events
from scoreboard.domain.anomalies import Limits, Rules
from scoreboard.moderation_view import ModerationView
from services.worker.anomalies import AnomalyWatch, EventFeed
from services.worker.context import WorkerContext
from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_adjustments import APPROVER, HIGH_LIMITS, run_queued
from tests.integration.test_write_security import assert_error

RULES = Rules(overall=Limits(per_minute=25))
ROOT = APPROVER


@pytest.fixture
async def api(api_factory: ApiClientFactory) -> httpx.AsyncClient:
    return await api_factory(**HIGH_LIMITS)


@pytest.fixture
async def watch(worker: WorkerContext) -> AsyncIterator[AnomalyWatch]:
    view = ModerationView(worker.pool)
    watching = AnomalyWatch(worker, RULES, view, on_stop=view.stop)
    assert await watching.tick() == 0  # leads, and starts from the newest event
    yield watching
    await watching.stop()


async def names(api: httpx.AsyncClient) -> list[tuple[str, int, int]]:
    return [(e["displayName"], e["score"], e["rank"]) for e in (await api.get("/api/leaderboard/top")).json()]


async def reviews(api: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    answer = await api.get(f"/api/admin/reviews{query}", headers=ROOT.headers())
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_cheater_is_quarantined_keeps_playing_and_sees_their_own_entry(
    api: httpx.AsyncClient, worker: WorkerContext, watch: AnomalyWatch, queue_redis_url: str
) -> None:
    ann, bob, cyd = Player("Ann"), Player("Bob"), Player("Cyd")
    for player in (bob, bob, cyd):
        assert (await player.play(api, "quiz")).status_code == 200
    for _ in range(3):  # 30 points in a minute: over the limit of 25
        assert (await ann.play(api, "quiz")).status_code == 200
    await run_queued(worker, queue_redis_url)
    assert await names(api) == [("Ann", 30, 1), ("Bob", 20, 2), ("Cyd", 10, 3)]

    assert await watch.tick() == 1

    assert await names(api) == [("Bob", 20, 1), ("Cyd", 10, 2)]  # hidden, the ranks close up
    (review,) = await reviews(api, "?status=open")
    assert (review["userId"], review["displayName"], review["rule"]) == (
        str(ann.user_id),
        "Ann",
        "overall.per_minute",
    )
    assert (review["observed"]["points"], review["observed"]["limit"]) == (30, 25)
    audit = (await api.get("/api/admin/audit", headers=ROOT.headers())).json()["items"]
    assert [(a["actor"], a["action"], a["target"]) for a in audit] == [
        ("worker:anomalies", "user.quarantine", f"user:{ann.user_id}")
    ]
    # Ann plays on, and sees herself where she would stand; nobody else does.
    played = (await ann.play(api, "quiz")).json()
    assert (played["newScore"], played["rank"], "top10IfChanged" in played) == (40, 1, False)
    await run_queued(worker, queue_redis_url)
    assert await names(api) == [("Bob", 20, 1), ("Cyd", 10, 2)]
    mine = (await api.get("/api/scores/me", headers=ann.headers())).json()
    assert (mine["score"], mine["rank"]) == (40, 1)
    around = (await api.get("/api/leaderboard/around/me", headers=cyd.headers())).json()
    assert [(e["displayName"], e["rank"]) for e in around["entries"]] == [("Bob", 1), ("Cyd", 2)]
    around = (await api.get("/api/leaderboard/around/me", headers=ann.headers())).json()
    assert [(e["displayName"], e["rank"]) for e in around["entries"]] == [("Ann", 1), ("Bob", 2), ("Cyd", 3)]
    assert await watch.tick() == 0  # one review per user, whatever they keep doing

    cleared = await api.post(
        f"/api/admin/reviews/{review['id']}/clear", json={"reason": "a real fan"}, headers=ROOT.headers()
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["status"], cleared.json()["closedBy"]) == ("cleared", str(ROOT.user_id))
    await run_queued(worker, queue_redis_url)
    assert await names(api) == [("Ann", 40, 1), ("Bob", 20, 2), ("Cyd", 10, 3)]
    watch.detector.forget(str(ann.user_id))  # as if the watch had restarted: it sees her again
    assert (await ann.play(api, "quiz")).status_code == 200
    assert await watch.tick() == 0  # cleared: not quarantined again for a while
    assert len(await reviews(api)) == 1
    assert await names(api) == [("Ann", 50, 1), ("Bob", 20, 2), ("Cyd", 10, 3)]
    again = await api.post(
        f"/api/admin/reviews/{review['id']}/ban", json={"reason": "r"}, headers=ROOT.headers()
    )
    assert_error(again, 409, "CONFLICT", "review_closed")


async def test_a_review_ends_in_a_ban(
    api: httpx.AsyncClient, worker: WorkerContext, watch: AnomalyWatch, redis_url: str
) -> None:
    bot = Player("Bot")
    for _ in range(3):
        assert (await bot.play(api, "quiz")).status_code == 200
    assert await watch.tick() == 1
    (review,) = await reviews(api)

    banned = await api.post(
        f"/api/admin/reviews/{review['id']}/ban", json={"reason": "a bot"}, headers=ROOT.headers()
    )

    assert banned.status_code == 200, banned.text
    assert banned.json()["status"] == "banned"
    assert_error(
        await api.post("/api/actions", json={"type": "quiz"}, headers=bot.headers()),
        403,
        "UNAUTHORIZED",
        "user_banned",
    )
    unbanned = await api.post(
        f"/api/admin/users/{bot.user_id}/unban", json={"reason": "appeal"}, headers=ROOT.headers()
    )
    assert unbanned.json()["state"] == "visible"
    assert_error(
        await api.post(
            f"/api/admin/reviews/{review['id']}/clear", json={"reason": "r"}, headers=ROOT.headers()
        ),
        409,
        "CONFLICT",
        "review_closed",
    )


async def test_an_event_committed_after_a_later_one_is_not_missed(worker: WorkerContext) -> None:
    ann = Player("Ann")
    await worker.pool.execute("INSERT INTO users (id, display_name) VALUES ($1, 'Ann')", ann.user_id)
    insert = (
        "INSERT INTO score_events (board_id, user_id, action_id, action_type, delta, request_hash, source) "
        "VALUES ('global', $1, gen_random_uuid(), 'quiz', $2, 'h', 'default') RETURNING id"
    )
    feed = EventFeed(await score_events.newest_id(worker.pool))
    async with worker.pool.acquire() as slow, worker.pool.acquire() as fast:
        late = slow.transaction()
        await late.start()
        late_id = await slow.fetchval(insert, ann.user_id, 7)
        early_id = await fast.fetchval(insert, ann.user_id, 3)
        assert late_id < early_id
        assert [(e.id, e.delta) for e in await feed.read(worker)] == [(early_id, 3)]
        await late.commit()
    assert [(e.id, e.delta) for e in await feed.read(worker)] == [(late_id, 7)]
    assert await feed.read(worker) == []


async def test_one_worker_watches_at_a_time_and_another_takes_over_from_its_checkpoint(
    api: httpx.AsyncClient, worker: WorkerContext, watch: AnomalyWatch
) -> None:
    view = ModerationView(worker.pool)
    standby = AnomalyWatch(worker, RULES, view)
    ann = Player("Ann")
    for _ in range(2):
        assert (await ann.play(api, "quiz")).status_code == 200
    assert await standby.tick() == 0  # not leading: reads nothing
    assert await watch.tick() == 0  # 20 points: under the limit
    await watch.stop()  # its lock is released; its checkpoint and position stay in Redis

    assert (await ann.play(api, "quiz")).status_code == 200
    assert await standby.tick() == 1  # took over from the checkpoint: saw all 30 points
    assert standby.detector.flagged == {str(ann.user_id)}
    await standby.stop()
