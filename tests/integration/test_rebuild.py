"""The full rebuild of a lost board (ARCHITECTURE.md: Events, docs/decisions/0003): built in temporary
keys, swapped in atomically with every live write made meanwhile merged (only if newer).

Live writes are interleaved deterministically through rebuild()'s per-page hook, with a small
batch size so the board is copied in many pages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from scoreboard.db import scores
from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import decode_member, encode_member, to_micros
from scoreboard.redis_store.keys import PROFILES, BoardKeys
from scoreboard.redis_store.leaderboard import BoardNotReady
from services.worker.context import WorkerContext
from services.worker.reconciler import rebuild, reconcile
from tests.factories import Player
from tests.integration.conftest import WorkerFactory
from tests.integration.test_reconciler import assert_redis_equals_db, insert_many, play_ok

BOARD = "global"
WINDOW = "all"
KEYS = BoardKeys(BOARD)
Entries = dict[uuid.UUID, tuple[int, str]]


@pytest.fixture
async def paged_worker(worker_factory: WorkerFactory) -> WorkerContext:
    """A worker context that rebuilds 100 users per page."""
    return await worker_factory(rebuild_batch=100)


async def db_entries(worker: WorkerContext) -> Entries:
    """The truth: every user's score and tiebreak member, encoded in Python."""
    rows = await worker.pool.fetch("SELECT user_id, score, reached_at FROM scores WHERE board_id = $1", BOARD)
    return {r["user_id"]: (r["score"], encode_member(r["user_id"], to_micros(r["reached_at"]))) for r in rows}


async def redis_entries(worker: WorkerContext) -> Entries:
    """Redis's live board, checked for internal consistency (ZSET and members hash agree)."""
    members = await worker.redis.hgetall(KEYS.members)  # type: ignore[misc]  # redis-py types sync and async as one
    ranking = dict(await worker.redis.zrange(KEYS.ranking, 0, -1, withscores=True))
    assert len(ranking) == len(members)
    entries: Entries = {}
    for user, member in members.items():
        user_id = uuid.UUID(user.decode())
        assert decode_member(member.decode())[0] == user_id
        entries[user_id] = (int(ranking[member]), member.decode())
    return entries


async def set_score(worker: WorkerContext, user_id: uuid.UUID, score: int, at: datetime) -> ScoreState:
    """Commit a score in PostgreSQL (as the API does, with an old updated_at so the watermark
    catch-up would not repair it: only the rebuild's merge can), and return its state."""
    await worker.pool.execute(
        "INSERT INTO users (id, display_name) VALUES ($1, 'Live') ON CONFLICT (id) DO NOTHING", user_id
    )
    await worker.pool.execute(
        """
        INSERT INTO scores (board_id, user_id, score, reached_at, updated_at)
        VALUES ($1, $2, $3, $4, timestamptz '2024-01-02')
        ON CONFLICT (board_id, window_id, user_id) DO UPDATE SET score = $3, reached_at = $4
        """,
        BOARD,
        user_id,
        score,
        at,
    )
    return ScoreState(BOARD, user_id, score, to_micros(at))


async def test_rebuild_equals_the_database_exactly(paged_worker: WorkerContext) -> None:
    worker = paged_worker
    await insert_many(worker, 2_500, distinct_scores=40)  # 25 full pages, then an empty one
    # Timestamps at the edges of the member encoding (computed by PostgreSQL during a rebuild).
    edges = [
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2262, 4, 11, 23, 47, 16, 854_775, tzinfo=UTC),
    ]
    for moment in edges:
        await set_score(worker, uuid.uuid4(), 7, moment)
    await set_score(worker, uuid.UUID(int=1), 7, edges[1])
    await set_score(worker, uuid.UUID(int=(1 << 128) - 1), 7, edges[1])

    assert await reconcile({"scoreboard": worker}) == "rebuilt:2505,repaired:0"

    assert await redis_entries(worker) == await db_entries(worker)
    await assert_redis_equals_db(worker)
    profiles = await worker.pool.fetch("SELECT id, display_name, is_public FROM users")
    cached = await worker.redis.hmget(PROFILES, [str(r["id"]) for r in profiles])  # type: ignore[misc]
    assert [orjson.loads(c) for c in cached] == [[r["display_name"], r["is_public"]] for r in profiles]
    assert not await worker.redis.exists(KEYS.rebuild_ranking, KEYS.rebuild_members, KEYS.rebuild_lock)


async def test_live_writes_during_the_rebuild_are_kept_and_newest(paged_worker: WorkerContext) -> None:
    worker = paged_worker
    await insert_many(worker, 1_000, distinct_scores=50)
    by_id = sorted(await db_entries(worker))
    copied_early, copied_late, not_yet = by_id[0], by_id[150], by_id[-1]  # pages go by user id
    newcomer = uuid.UUID(int=1)  # before every id: only the final merge can bring it in
    now = datetime.now(UTC)
    live = worker.leaderboard  # the API's guarded write-through path (apply, live mode)

    async def between_pages(copied: int) -> None:
        # A half-built board is never readable, whatever the live keys hold meanwhile.
        assert await live.top(BOARD, WINDOW, 10) is None
        with pytest.raises(BoardNotReady):
            await live.score_and_rank(BOARD, WINDOW, copied_early)
        if copied == 300:
            # A newer score for users the rebuild already copied, and one it has not reached.
            for user, score in ((copied_early, 5_000), (copied_late, 600), (not_yet, 700)):
                await live.apply([await set_score(worker, user, score, now)])
            # A brand-new user, written twice (the second a higher score).
            await live.apply([await set_score(worker, newcomer, 40, now)])
            await live.apply([await set_score(worker, newcomer, 45, now + timedelta(seconds=1))])
        if copied == 600:
            # A replayed, older copy of a state (lower score) must not win over the newer one...
            await live.apply([ScoreState(BOARD, copied_late, 550, to_micros(now))])
            # ...and the copied user gets newer still.
            await live.apply([await set_score(worker, copied_early, 5_001, now + timedelta(seconds=2))])

    result = await rebuild(worker, BOARD, on_page=between_pages)
    assert result == "rebuilt:1000"

    truth = await db_entries(worker)
    assert truth[copied_early][0] == 5_001
    assert truth[copied_late][0] == 600
    assert truth[newcomer][0] == 45
    assert await redis_entries(worker) == truth  # before any catch-up: the merge alone did it
    assert await live.is_ready(BOARD, WINDOW)
    assert await live.score_and_rank(BOARD, WINDOW, copied_early) == (5_001, 1)
    assert await live.score_and_rank(BOARD, WINDOW, not_yet) == (700, 2)
    assert await live.score_and_rank(BOARD, WINDOW, copied_late) == (600, 3)
    await assert_redis_equals_db(worker)


async def test_writes_through_the_api_during_the_rebuild_are_kept(
    api: httpx.AsyncClient, paged_worker: WorkerContext
) -> None:
    worker = paged_worker
    await reconcile({"scoreboard": worker})
    veteran, rookie = Player("Veteran"), Player("Rookie")
    for _ in range(3):
        await play_ok(api, veteran, "quiz")
    await insert_many(worker, 500, distinct_scores=20)
    await worker.redis.flushdb()

    async def between_pages(copied: int) -> None:
        if copied == 200:
            answer = await play_ok(api, veteran, "quiz")  # 40: already copied, or not: either way
            assert answer["rank"] == 1  # answered from the database while not ready
            await play_ok(api, rookie)

    assert (await rebuild(worker, BOARD, on_page=between_pages)).startswith("rebuilt:")
    assert await redis_entries(worker) == await db_entries(worker)
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, veteran.user_id) == (40, 1)
    assert (await worker.leaderboard.score_and_rank(BOARD, WINDOW, rookie.user_id) or (0, 0))[0] == 1
    top = (await api.get("/api/leaderboard/top?limit=1")).json()
    assert top[0]["userId"] == str(veteran.user_id)


async def test_leftovers_of_a_crashed_rebuild_do_not_leak(paged_worker: WorkerContext) -> None:
    worker = paged_worker
    await insert_many(worker, 300, distinct_scores=20)
    ghost, half_built_ghost = uuid.uuid4(), uuid.uuid4()
    ghost_member = encode_member(ghost, 1)
    half_built_member = encode_member(half_built_ghost, 1)
    await worker.redis.zadd(KEYS.rebuild_ranking, {ghost_member: 10**9})
    await worker.redis.hset(KEYS.rebuild_members, str(ghost), ghost_member)  # type: ignore[misc]
    # An older rebuild's half-built live keys (no `ready`): unread, and not merged either.
    await worker.redis.zadd(KEYS.ranking, {half_built_member: 10**9})
    await worker.redis.hset(KEYS.members, str(half_built_ghost), half_built_member)  # type: ignore[misc]

    assert await reconcile({"scoreboard": worker}) == "rebuilt:300,repaired:0"
    entries = await redis_entries(worker)
    assert ghost not in entries
    assert half_built_ghost not in entries
    assert entries == await db_entries(worker)
    await assert_redis_equals_db(worker)


async def test_emitted_marks_survive_a_rebuild(paged_worker: WorkerContext) -> None:
    worker = paged_worker
    await insert_many(worker, 200)
    marks = {str(uuid.uuid4()): "12", str(uuid.uuid4()): "7"}
    await worker.redis.hset(KEYS.emitted, mapping=marks)  # type: ignore[misc]
    assert (await reconcile({"scoreboard": worker})).startswith("rebuilt:200,")
    emitted = await worker.redis.hgetall(KEYS.emitted)  # type: ignore[misc]
    assert {k.decode(): v.decode() for k, v in emitted.items()} == marks


async def test_a_rebuild_that_lost_its_lock_swaps_nothing(paged_worker: WorkerContext) -> None:
    worker = paged_worker
    await insert_many(worker, 500, distinct_scores=20)

    async def lock_expires_and_another_worker_takes_it(copied: int) -> None:
        if copied == 200:
            await worker.redis.set(KEYS.rebuild_lock, "someone-else")

    assert (
        await rebuild(worker, BOARD, on_page=lock_expires_and_another_worker_takes_it) == "rebuild-abandoned"
    )
    assert not await worker.leaderboard.is_ready(BOARD, WINDOW)
    assert await worker.redis.zcard(KEYS.ranking) == 0
    assert await worker.redis.get(KEYS.rebuild_lock) == b"someone-else"  # not ours to release

    await worker.redis.delete(KEYS.rebuild_lock)
    assert (await reconcile({"scoreboard": worker})).startswith("rebuilt:500,")
    await assert_redis_equals_db(worker)


async def test_a_rebuild_of_a_board_that_became_ready_meanwhile_touches_nothing(
    paged_worker: WorkerContext,
) -> None:
    """Another worker finished its rebuild between our `ready` check and our taking the lock."""
    worker = paged_worker
    await insert_many(worker, 200)
    assert (await reconcile({"scoreboard": worker})).startswith("rebuilt:200,")
    before = await redis_entries(worker)

    assert await rebuild(worker, BOARD) == "rebuild-elsewhere"
    assert await redis_entries(worker) == before
    assert await worker.leaderboard.is_ready(BOARD, WINDOW)
    assert not await worker.redis.exists(KEYS.rebuild_lock)


async def test_iterate_board_pages_by_user_id_and_encodes_members_like_python(
    paged_worker: WorkerContext,
) -> None:
    worker = paged_worker
    await insert_many(worker, 250)
    seen: list[Any] = []
    async for page in scores.iterate_board(worker.pool, BOARD, WINDOW, 100):
        seen.append(len(page))
        for user, member in zip(page.users, page.members, strict=True):
            assert decode_member(member)[0] == uuid.UUID(user)
    assert seen == [100, 100, 50]
