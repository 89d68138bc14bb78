"""PUT /api/me/privacy and profile changes made anywhere (ARCHITECTURE.md: Write API): the choice reaches
reads, snapshots and later events, and a stale copy can never undo it."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson

from scoreboard.redis_store import events
from scoreboard.redis_store.job_queue import REFRESH_PROFILES
from scoreboard.redis_store.keys import JOB_QUEUE
from services.worker import jobs, profiles, reconciler
from services.worker.context import WorkerContext
from tests.factories import Player
from tests.integration.test_reads import BOARD, WINDOW, ladder, seed
from tests.integration.test_write_security import assert_error, database_down_url, redis_down_url
from tests.servers import queue_client

ANONYMOUS = {"userId": None, "displayName": "Anonymous"}


async def put_privacy(api: httpx.AsyncClient, player: Player, public: Any) -> httpx.Response:
    return await api.put("/api/me/privacy", json={"public": public}, headers=player.headers())


async def queued_refreshes(queue_url: str) -> list[dict[str, Any]]:
    """The payloads of the queued refresh_profiles jobs, read the way arq reads them."""
    client = queue_client(queue_url)
    try:
        queued = await client.queued_jobs(queue_name=JOB_QUEUE)
    finally:
        await client.aclose()
    return [job.args[0] for job in queued if job.function == REFRESH_PROFILES]


async def latest_top_event(worker: WorkerContext) -> dict[str, Any]:
    entries = await events.range_after(worker.redis, "0-0", "+", count=10_000)
    tops = [orjson.loads(e.data) for e in entries if e.type == "leaderboard_updated"]
    assert tops, "no leaderboard_updated on the stream"
    latest: dict[str, Any] = tops[-1]
    return latest


def shown(entry: dict[str, Any]) -> dict[str, Any]:
    return {"userId": entry["userId"], "displayName": entry["displayName"]}


async def test_going_private_is_recorded_and_the_worker_is_asked_to_show_it(
    api: httpx.AsyncClient, worker: WorkerContext, queue_redis_url: str
) -> None:
    ann = Player("Ann")

    answer = await put_privacy(api, ann, False)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"userId": str(ann.user_id), "public": False}
    assert await worker.pool.fetchval("SELECT is_public FROM users WHERE id = $1", ann.user_id) is False
    assert await queued_refreshes(queue_redis_url) == [{"userIds": [str(ann.user_id)]}]


async def test_the_refresh_hides_the_user_on_reads_and_in_a_newer_top_10(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    rows = ladder(3)
    await seed(worker, rows)
    await worker.publisher.publish_if_changed(BOARD, WINDOW, force_wait=True)
    before = await latest_top_event(worker)
    hidden = rows[1][0]

    assert (await put_privacy(api, hidden, False)).status_code == 200
    await profiles.refresh_profiles({"scoreboard": worker}, {"userIds": [str(hidden.user_id)]})
    await worker.publisher.publish_if_changed(BOARD, WINDOW, force_wait=True)

    top = (await api.get("/api/leaderboard/top")).json()
    after = await latest_top_event(worker)
    assert shown(top[1]) == ANONYMOUS
    assert top[1]["rank"] == 2
    assert shown(after["top10"][1]) == ANONYMOUS
    assert after["version"] > before["version"]
    assert shown(before["top10"][1]) == {"userId": str(hidden.user_id), "displayName": hidden.name}

    assert (await put_privacy(api, hidden, True)).status_code == 200
    await profiles.refresh_profiles({"scoreboard": worker}, {"userIds": [str(hidden.user_id)]})
    assert shown((await api.get("/api/leaderboard/top")).json()[1])["displayName"] == hidden.name


async def test_a_change_made_in_the_database_reaches_redis_on_the_next_reconcile(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    rows = ladder(3)
    await seed(worker, rows)
    await reconciler.reconcile({"scoreboard": worker})  # the feed's watermark starts here
    hidden = rows[0][0]

    await worker.pool.execute("UPDATE users SET is_public = false WHERE id = $1", hidden.user_id)
    outcome = await reconciler.reconcile({"scoreboard": worker})
    await worker.publisher.publish_if_changed(BOARD, WINDOW, force_wait=True)

    assert "profiles:1" in outcome
    assert shown((await api.get("/api/leaderboard/top")).json()[0]) == ANONYMOUS
    assert shown((await latest_top_event(worker))["top10"][0]) == ANONYMOUS
    assert "profiles" not in await reconciler.reconcile({"scoreboard": worker})  # nothing left to correct


async def test_a_late_job_from_before_the_change_cannot_undo_it(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    ann = Player("Ann")
    played = await ann.play(api)
    assert played.status_code == 200
    assert (await put_privacy(api, ann, False)).status_code == 200
    await profiles.refresh_profiles({"scoreboard": worker}, {"userIds": [str(ann.user_id)]})

    stale = {  # queued before the change, run after it
        "board": BOARD,
        "userId": str(ann.user_id),
        "newScore": 1,
        "reachedAt": 1,
        "eventId": 1,
        "displayName": "Ann",
        "public": True,
        "committedAt": 0,
        "traceparent": None,
    }
    await jobs.apply_score({"scoreboard": worker}, stale)

    assert shown((await api.get("/api/leaderboard/top")).json()[0]) == ANONYMOUS


async def test_privacy_needs_a_boolean_and_a_token(api: httpx.AsyncClient) -> None:
    ann = Player("Ann")
    assert_error(await put_privacy(api, ann, "no"), 400, "VALIDATION_ERROR")
    assert_error(await api.put("/api/me/privacy", json={}, headers=ann.headers()), 400, "VALIDATION_ERROR")
    assert_error(await api.put("/api/me/privacy", json={"public": False}), 401, "UNAUTHENTICATED")


async def test_privacy_is_503_when_the_database_is_away(api_factory: Any) -> None:
    api = await api_factory(database_url=database_down_url())
    assert_error(await put_privacy(api, Player(), False), 503, "UNAVAILABLE")


async def test_privacy_still_succeeds_when_redis_is_away(api_factory: Any, database_url: str) -> None:
    api = await api_factory(redis_url=redis_down_url())
    ann = Player("Ann")
    assert (await put_privacy(api, ann, False)).status_code == 200
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT is_public FROM users WHERE id = $1", ann.user_id) is False
    finally:
        await connection.close()
