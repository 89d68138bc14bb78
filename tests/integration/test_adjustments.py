"""Adjustments under the two-person rule (ARCHITECTURE.md: Operators): proposed by one admin, applied once
by another, as an `admin` score event on exactly the board and window named, never below 0,
reaching Redis and the stream like an increment; a past window's final standings change."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from scoreboard.db.score_events import totals_mismatch
from scoreboard.redis_store import events
from scoreboard.redis_store.job_queue import APPLY_SCORE, MODERATE_USERS, REFRESH_PROFILES
from scoreboard.redis_store.keys import JOB_QUEUE
from services.worker import jobs, moderation, profiles, reconciler
from services.worker.context import WorkerContext
from tests.factories import Player
from tests.integration.conftest import ApiClientFactory, WorkerFactory
from tests.integration.test_write_security import assert_error
from tests.servers import queue_client
from tests.waiting import eventually

BOARDS = {"global": {}, "daily": {"window": "day", "retain": 3}}
HIGH_LIMITS = {"rate_limit_user_per_min": 10_000, "rate_limit_ip_per_min": 100_000}
PROPOSER, APPROVER = Player("Pat", admin=True), Player("Alex", admin=True)
WORKER_JOBS = {
    APPLY_SCORE: jobs.apply_score,
    MODERATE_USERS: moderation.moderate_users,
    REFRESH_PROFILES: profiles.refresh_profiles,
}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.fixture
async def api(api_factory: ApiClientFactory) -> httpx.AsyncClient:
    return await api_factory(boards=BOARDS, **HIGH_LIMITS)


@pytest.fixture
async def boards_worker(worker_factory: WorkerFactory) -> WorkerContext:
    context = await worker_factory(boards=BOARDS)
    await reconciler.reconcile({"scoreboard": context})  # every current window built, as at start
    return context


async def run_queued(worker: WorkerContext, queue_url: str) -> list[str]:
    """Run every queued job once, as a worker would, and empty the queue."""
    client = queue_client(queue_url)
    try:
        queued = await client.queued_jobs(queue_name=JOB_QUEUE)
        await client.delete(JOB_QUEUE)
    finally:
        await client.aclose()
    return [await WORKER_JOBS[job.function]({"scoreboard": worker}, job.args[0]) for job in queued]


async def propose(api: httpx.AsyncClient, body: dict[str, Any], by: Player = PROPOSER) -> httpx.Response:
    return await api.post(
        "/api/admin/adjustments", json={"reason": "support ticket 42"} | body, headers=by.headers()
    )


async def review(
    api: httpx.AsyncClient, adjustment_id: str, verb: str, by: Player = APPROVER
) -> httpx.Response:
    return await api.post(
        f"/api/admin/adjustments/{adjustment_id}/{verb}",
        json={"reason": "checked the logs"},
        headers=by.headers(),
    )


async def top(
    api: httpx.AsyncClient, board: str = "global", window: str | None = None
) -> list[tuple[str, int]]:
    params = {"board": board} | ({"window": window} if window else {})
    response = await api.get("/api/leaderboard/top", params=params)
    assert response.status_code == 200, response.text
    return [(entry["displayName"], entry["score"]) for entry in response.json()]


async def admin_events(worker: WorkerContext) -> list[dict[str, Any]]:
    rows = await worker.pool.fetch(
        "SELECT delta, boards FROM score_events WHERE source = 'admin' ORDER BY id"
    )
    return [{"delta": row["delta"], "boards": orjson.loads(row["boards"])} for row in rows]


async def audit_actions(api: httpx.AsyncClient) -> list[str]:
    items = (await api.get("/api/admin/audit", headers=PROPOSER.headers())).json()["items"]
    return [item["action"] for item in reversed(items)]


async def test_an_approved_adjustment_counts_once_on_its_board_and_window_and_reaches_the_stream(
    api: httpx.AsyncClient, boards_worker: WorkerContext, queue_redis_url: str
) -> None:
    ann, bob = Player("Ann"), Player("Bob")
    for player, kind in [(ann, "quiz"), (ann, "quiz"), (bob, "quiz")]:
        assert (await player.play(api, kind)).status_code == 200
    await run_queued(boards_worker, queue_redis_url)

    proposed = await propose(api, {"userId": str(bob.user_id), "board": "global", "delta": 15})
    assert proposed.status_code == 201, proposed.text
    pending = proposed.json()
    assert (pending["status"], pending["window"], pending["delta"], pending["appliedDelta"]) == (
        "pending",
        "all",
        15,
        None,
    )
    assert await top(api) == [("Ann", 20), ("Bob", 10)]  # nothing applied before an approval

    assert_error(
        await review(api, pending["id"], "approve", by=PROPOSER), 403, "UNAUTHORIZED", "same_reviewer"
    )
    approved = await review(api, pending["id"], "approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["appliedDelta"], approved.json()["scoreAfter"]) == (
        "approved",
        15,
        25,
    )
    assert approved.json()["reviewedBy"] == str(APPROVER.user_id)

    await run_queued(boards_worker, queue_redis_url)
    assert await top(api) == [("Bob", 25), ("Ann", 20)]
    assert await top(api, "daily") == [("Ann", 20), ("Bob", 10)]  # its board and window alone
    assert await admin_events(boards_worker) == [
        {"delta": 15, "boards": {"global": {"window": "all", "score": 25}}}
    ]
    assert await totals_mismatch(boards_worker.pool) == []
    own = [
        e
        for e in await events.range_after(boards_worker.redis, "0-0", "+", count=1000)
        if e.type == "user_score_updated"
    ]
    assert orjson.loads(own[-1].data) == {
        "type": "user_score_updated",
        "board": "global",
        "window": "all",
        "userId": str(bob.user_id),
        "newScore": 25,
        "rank": 1,
    }
    await boards_worker.publisher.publish_if_changed("global", "all", force_wait=True)
    tops = [
        orjson.loads(e.data) for e in await events.range_after(boards_worker.redis, "0-0", "+", count=1000)
    ]
    latest = [t for t in tops if t["type"] == "leaderboard_updated" and t["board"] == "global"][-1]
    assert [(row["displayName"], row["score"]) for row in latest["top10"]] == [("Bob", 25), ("Ann", 20)]

    assert_error(await review(api, pending["id"], "approve"), 409, "CONFLICT", "already_reviewed")
    assert_error(await review(api, pending["id"], "reject"), 409, "CONFLICT", "already_reviewed")
    assert await audit_actions(api) == ["adjustment.propose", "adjustment.approve"]


async def test_racing_approvals_apply_it_once(api: httpx.AsyncClient, boards_worker: WorkerContext) -> None:
    ann = Player("Ann")
    assert (await ann.play(api, "quiz")).status_code == 200
    pending = (await propose(api, {"userId": str(ann.user_id), "board": "global", "delta": 7})).json()
    admins = [Player(f"Admin {i}", admin=True) for i in range(6)]

    answers = await asyncio.gather(*(review(api, pending["id"], "approve", by=admin) for admin in admins))

    assert sorted(answer.status_code for answer in answers) == [200] + [409] * 5
    assert await admin_events(boards_worker) == [
        {"delta": 7, "boards": {"global": {"window": "all", "score": 17}}}
    ]
    assert (
        await boards_worker.pool.fetchval(
            "SELECT score FROM scores WHERE board_id = 'global' AND user_id = $1", ann.user_id
        )
        == 17
    )


async def test_a_negative_adjustment_stops_at_zero_and_lowers_the_board(
    api: httpx.AsyncClient, boards_worker: WorkerContext, queue_redis_url: str
) -> None:
    ann, bob = Player("Ann"), Player("Bob")
    for player in (ann, ann, bob):
        assert (await player.play(api, "quiz")).status_code == 200
    await run_queued(boards_worker, queue_redis_url)
    pending = (await propose(api, {"userId": str(ann.user_id), "board": "daily", "delta": -500})).json()
    assert pending["window"] == today()

    approved = (await review(api, pending["id"], "approve")).json()

    assert (approved["appliedDelta"], approved["scoreAfter"]) == (-20, 0)
    await run_queued(boards_worker, queue_redis_url)
    assert await top(api, "daily") == [("Bob", 10), ("Ann", 0)]
    assert await top(api) == [("Ann", 20), ("Bob", 10)]
    await reconciler.reconcile({"scoreboard": boards_worker})  # the feed re-applies it: nothing changes
    assert await top(api, "daily") == [("Bob", 10), ("Ann", 0)]
    assert await totals_mismatch(boards_worker.pool) == []


async def test_an_adjustment_of_a_past_window_changes_its_final_standings_past_every_cache(
    api_factory: ApiClientFactory, boards_worker: WorkerContext
) -> None:
    approving = await api_factory(boards=BOARDS, top_cache_ms=1000, **HIGH_LIMITS)
    other = await api_factory(boards=BOARDS, top_cache_ms=1000, **HIGH_LIMITS)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    ann, bob = Player("Ann"), Player("Bob")
    for player, score in [(ann, 30), (bob, 20)]:
        await boards_worker.pool.execute(
            "INSERT INTO users (id, display_name) VALUES ($1, $2)", player.user_id, player.name
        )
        await boards_worker.pool.execute(
            "INSERT INTO scores (board_id, window_id, user_id, score, reached_at) "
            "VALUES ('daily', $1, $2, $3, $4)",
            yesterday,
            player.user_id,
            score,
            datetime.now(UTC) - timedelta(days=1),
        )
    for client in (approving, other):
        assert await top(client, "daily", yesterday) == [("Ann", 30), ("Bob", 20)]  # now cached

    body = {"userId": str(bob.user_id), "board": "daily", "window": yesterday, "delta": 25}
    pending = (await propose(approving, body)).json()
    assert (await review(approving, pending["id"], "approve")).status_code == 200

    assert await top(approving, "daily", yesterday) == [("Bob", 45), ("Ann", 30)]  # at once here
    assert await eventually(lambda: top(other, "daily", yesterday), lambda seen: seen[0] == ("Bob", 45))


@pytest.mark.parametrize(
    ("change", "status", "field_or_reason"),
    [
        ({"delta": 0}, 400, "delta"),
        ({"delta": "5"}, 400, "delta"),
        ({"delta": 1.5}, 400, "delta"),
        ({"delta": 10**12}, 400, "delta"),
        ({"delta": None}, 400, "delta"),
        ({"userId": "not-a-user-id"}, 400, "userId"),
        ({"userId": str(uuid.uuid4())}, 404, None),
        ({"board": "nope"}, 404, None),
        ({"board": "No Board"}, 400, "board"),
        ({"window": "2001-01-01"}, 404, None),
        ({"window": "yesterday"}, 400, "window"),
        ({"reason": ""}, 400, "reason"),
        ({"reason": "   "}, 400, "reason"),
        ({"reason": "x" * 10_000}, 400, "reason"),
        ({"extra": 1}, 400, "extra"),
    ],
)
async def test_a_bad_proposal_is_a_4xx_and_changes_nothing(
    api: httpx.AsyncClient,
    boards_worker: WorkerContext,
    change: dict[str, Any],
    status: int,
    field_or_reason: str | None,
) -> None:
    ann = Player("Ann")
    assert (await ann.play(api)).status_code == 200
    body = {"userId": str(ann.user_id), "board": "daily", "delta": 5} | change
    response = await propose(api, body)
    error = assert_error(response, status, "VALIDATION_ERROR" if status == 400 else "NOT_FOUND")
    if field_or_reason is not None:
        assert field_or_reason in [item["field"] for item in error["details"]["fields"]]
    listed = (await api.get("/api/admin/adjustments", headers=PROPOSER.headers())).json()
    assert (listed["items"], await audit_actions(api), await admin_events(boards_worker)) == ([], [], [])


async def test_wrong_bodies_and_ids_change_nothing(
    api: httpx.AsyncClient, boards_worker: WorkerContext
) -> None:
    headers = PROPOSER.headers() | {"content-type": "application/json"}
    for raw in (b"{", b"[]", b'"text"'):
        assert_error(
            await api.post("/api/admin/adjustments", content=raw, headers=headers), 400, "VALIDATION_ERROR"
        )
    assert_error(await review(api, "not-a-uuid", "approve"), 400, "VALIDATION_ERROR")
    assert_error(await review(api, str(uuid.uuid4()), "approve"), 404, "NOT_FOUND")
    assert (await audit_actions(api), await admin_events(boards_worker)) == ([], [])


async def test_a_rejected_adjustment_is_never_applied_and_the_list_filters_by_status(
    api: httpx.AsyncClient, boards_worker: WorkerContext
) -> None:
    ann = Player("Ann")
    assert (await ann.play(api, "quiz")).status_code == 200
    made = [
        (await propose(api, {"userId": str(ann.user_id), "board": "global", "delta": d})).json()
        for d in (1, 2, 3)
    ]
    assert (
        await review(api, made[0]["id"], "reject", by=PROPOSER)
    ).status_code == 200  # withdrawn by its author
    assert (await review(api, made[1]["id"], "approve")).status_code == 200

    assert_error(await review(api, made[0]["id"], "approve"), 409, "CONFLICT", "already_reviewed")

    async def listed(query: str) -> list[int]:
        answer = await api.get(f"/api/admin/adjustments{query}", headers=APPROVER.headers())
        assert answer.status_code == 200, answer.text
        return [item["delta"] for item in answer.json()["items"]]

    assert await listed("") == [3, 2, 1]  # newest first
    assert (
        await listed("?status=pending"),
        await listed("?status=approved"),
        await listed("?status=rejected"),
    ) == (
        [3],
        [2],
        [1],
    )
    first = (await api.get("/api/admin/adjustments?limit=2", headers=APPROVER.headers())).json()
    rest = await listed(f"?limit=2&cursor={first['nextCursor']}")
    assert ([item["delta"] for item in first["items"]], rest) == ([3, 2], [1])
    assert_error(
        await api.get("/api/admin/adjustments?status=done", headers=APPROVER.headers()),
        400,
        "VALIDATION_ERROR",
    )
    assert await admin_events(boards_worker) == [
        {"delta": 2, "boards": {"global": {"window": "all", "score": 12}}}
    ]
