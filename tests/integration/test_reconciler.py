"""Convergence (ARCHITECTURE.md: Events): whatever Redis lost, the reconciler makes it equal PostgreSQL.

Lost enqueues are applied and announced exactly once; a flushed Redis is rebuilt (reads use the
database meanwhile); rows changed after a rebuild are caught up from the watermark; concurrent
reconcilers do not corrupt the board.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest

from scoreboard.db import scores
from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import to_micros, unique_ranks
from scoreboard.redis_store.job_queue import apply_score_job
from scoreboard.redis_store.keys import EVENT_STREAM, BoardKeys
from services.worker.context import WorkerContext
from services.worker.jobs import apply_score
from services.worker.reconciler import rebuild, reconcile
from tests.factories import Player
from tests.integration.conftest import WorkerFactory
from tests.integration.test_reads import play_ok

BOARD = "global"
WINDOW = "all"
KEYS = BoardKeys(BOARD)


def closed_port_url() -> str:
    """A Redis URL nobody listens on (port 1 may be taken on a shared machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def run_reconcile(worker: WorkerContext) -> str:
    return await reconcile({"scoreboard": worker})


async def db_board(worker: WorkerContext) -> list[tuple[uuid.UUID, int]]:
    """The truth, in ranking order."""
    rows = await scores.top(worker.pool, BOARD, WINDOW, 1_000_000)
    return [(e.user_id, e.score) for e in rows]


async def redis_board(worker: WorkerContext) -> list[tuple[uuid.UUID, int]]:
    """Redis's board in ranking order, read straight from the ZSET (ready or not)."""
    count = await worker.redis.zcard(KEYS.ranking)
    rows = await worker.redis.zrevrange(KEYS.ranking, 0, -1, withscores=True)
    entries = await worker.leaderboard.hydrate(rows, unique_ranks(len(rows), 0))
    assert len(entries) == count
    return [(e.user_id, e.score) for e in entries]


async def assert_redis_equals_db(worker: WorkerContext) -> None:
    truth = await db_board(worker)
    assert await worker.leaderboard.is_ready(BOARD, WINDOW)
    assert await redis_board(worker) == truth
    members = await worker.redis.hgetall(KEYS.members)  # type: ignore[misc]  # redis-py types sync and async as one
    assert {uuid.UUID(k.decode()) for k in members} == {u for u, _ in truth}
    for position, (user, score) in enumerate(truth, start=1):
        if position <= 50 or position % 97 == 0:
            assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, user) == (score, position)


async def score_events(worker: WorkerContext) -> list[dict[str, Any]]:
    entries = await worker.redis.xrange(EVENT_STREAM)
    return [
        orjson.loads(fields[b"data"]) for _, fields in entries if fields[b"type"] == b"user_score_updated"
    ]


async def insert_many(worker: WorkerContext, count: int, *, distinct_scores: int = 500) -> None:
    """count users with scores straight into PostgreSQL (many ties on score), last changed long ago."""
    await worker.pool.execute(
        """
        WITH made AS (
            INSERT INTO users (id, display_name, is_public)
            SELECT gen_random_uuid(), 'bulk-' || g, g % 9 <> 0 FROM generate_series(1, $1) AS g
            RETURNING id
        )
        INSERT INTO scores (board_id, user_id, score, reached_at, updated_at)
        SELECT $2, id, (random() * $3)::bigint,
               timestamptz '2024-01-01' + (random() * 1000)::int * interval '1 microsecond',
               timestamptz '2024-01-02'
        FROM made
        """,
        count,
        BOARD,
        distinct_scores,
    )


@pytest.fixture
async def small_batch_worker(worker_factory: WorkerFactory) -> WorkerContext:
    """A second worker context whose reconciler reads 100 changed rows per page."""
    return await worker_factory(reconcile_batch=100, rebuild_batch=100)


# --- Lost enqueues -----------------------------------------------------------------------------


async def test_lost_enqueue_is_applied_and_announced_exactly_once(
    api_factory: Any, worker: WorkerContext
) -> None:
    assert await run_reconcile(worker) == "rebuilt:0,repaired:0"  # a running system: board ready
    # The API cannot reach Redis: no write-through, no enqueue. The writes still succeed.
    cut_off = await api_factory(redis_url=closed_port_url())
    ada, bob, cyd = Player("Ada"), Player("Bob"), Player("Cyd")
    await play_ok(cut_off, ada, "quiz")
    await play_ok(cut_off, ada)
    await play_ok(cut_off, bob, "quiz")
    await play_ok(cut_off, cyd)
    assert await worker.redis.zcard(KEYS.ranking) == 0

    for _ in range(3):
        await run_reconcile(worker)

    await assert_redis_equals_db(worker)
    assert await db_board(worker) == [(ada.user_id, 11), (bob.user_id, 10), (cyd.user_id, 1)]
    events = await score_events(worker)
    assert sorted((e["userId"], e["newScore"], e["rank"]) for e in events) == sorted(
        [(str(ada.user_id), 11, 1), (str(bob.user_id), 10, 2), (str(cyd.user_id), 1, 3)]
    )
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert [e.display_name for e in top] == ["Ada", "Bob", "Cyd"]  # profiles cached as well


async def test_job_never_run_is_announced_once_by_the_reconciler_and_not_again_by_the_job(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    await run_reconcile(worker)
    ada, bob = Player("Ada"), Player("Bob")
    await play_ok(api, ada, "quiz")  # written through to Redis, job enqueued, no worker running
    await play_ok(api, bob)
    assert await score_events(worker) == []

    for _ in range(3):
        await run_reconcile(worker)
    await assert_redis_equals_db(worker)
    events = await score_events(worker)
    assert sorted((e["userId"], e["newScore"], e["rank"]) for e in events) == sorted(
        [(str(ada.user_id), 10, 1), (str(bob.user_id), 1, 2)]
    )

    # The worker comes back and finally runs Ada's queued job: nothing is announced twice.
    row = await worker.pool.fetchrow("SELECT score, reached_at FROM scores WHERE user_id = $1", ada.user_id)
    assert row is not None
    job = apply_score_job(
        [ScoreState(BOARD, ada.user_id, row["score"], to_micros(row["reached_at"]))],
        display_name="Ada",
        is_public=True,
        event_id=1,
        committed_us=0,
        traceparent=None,
    ).payload
    assert await apply_score({"scoreboard": worker}, job) == "current"
    assert len(await score_events(worker)) == 2


# --- Redis lost everything ------------------------------------------------------------------


async def test_flushed_redis_is_rebuilt_and_reads_use_the_database_meanwhile(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    await run_reconcile(worker)
    players = [Player(f"P{i}") for i in range(10)]
    for round_ in range(5):  # 50 increments
        for i, player in enumerate(players):
            await play_ok(api, player, "quiz" if (i + round_) % 3 == 0 else "default")
    truth = await db_board(worker)
    before = (await api.get("/api/leaderboard/top")).json()
    assert [(uuid.UUID(e["userId"]), e["score"]) for e in before] == truth

    await worker.redis.flushdb()
    assert not await worker.leaderboard.is_ready(BOARD, WINDOW)

    # Not ready: every read comes from the database, complete and correct (not empty).
    assert (await api.get("/api/leaderboard/top")).json() == before
    for position, (user, score) in enumerate(truth, start=1):
        player = next(p for p in players if p.user_id == user)
        me = (await api.get("/api/scores/me", headers=player.headers())).json()
        assert me == {"userId": str(user), "board": BOARD, "window": WINDOW, "score": score, "rank": position}
    around = (await api.get("/api/leaderboard/around/me?radius=2", headers=players[0].headers())).json()
    assert around["entries"]
    assert around["rank"] == [u for u, _ in truth].index(players[0].user_id) + 1

    result = await run_reconcile(worker)
    assert result.startswith("rebuilt:10,")
    assert await worker.redis.exists(KEYS.ready) == 1
    await assert_redis_equals_db(worker)
    assert (await api.get("/api/leaderboard/top")).json() == before
    # After a rebuild, what changed within the safety margin before it is announced (its events
    # may have been lost with Redis): every player here has just played, each is announced once.
    announced = await score_events(worker)
    assert sorted((uuid.UUID(e["userId"]), e["newScore"]) for e in announced) == sorted(truth)
    await run_reconcile(worker)
    assert len(await score_events(worker)) == len(announced)


async def test_write_during_the_outage_window_is_kept_by_the_rebuild(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    await run_reconcile(worker)
    early = [Player(f"E{i}") for i in range(4)]
    for player in early:
        await play_ok(api, player, "quiz")
    await worker.redis.flushdb()
    late = Player("Late")
    answer = await play_ok(api, late)  # written through to an empty, not-ready board
    assert answer["rank"] == 5  # from the database, not from the one-member ZSET

    await run_reconcile(worker)
    await assert_redis_equals_db(worker)
    assert (await db_board(worker))[-1] == (late.user_id, 1)


async def test_rebuild_of_20000_users_completes_in_one_reconcile(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    await insert_many(worker, 20_000)
    assert not await worker.leaderboard.is_ready(BOARD, WINDOW)

    started = time.perf_counter()
    result = await run_reconcile(worker)
    elapsed = time.perf_counter() - started
    print(f"\nreconcile rebuilt 20,000 users in {elapsed:.3f} s ({result})")

    assert result.startswith("rebuilt:20000,")
    assert await worker.redis.zcard(KEYS.ranking) == 20_000
    await assert_redis_equals_db(worker)
    # The API serves the rebuilt board from Redis, anonymising private users.
    top = (await api.get("/api/leaderboard/top?limit=50")).json()
    db_top = await scores.top(worker.pool, BOARD, WINDOW, 50)
    assert top == [e.to_public() for e in db_top]


async def test_reads_stay_correct_while_a_rebuild_is_in_progress(
    api: httpx.AsyncClient, small_batch_worker: WorkerContext
) -> None:
    """Rebuilt in batches of 100: no read may see the half-built board. The reads run after each
    page is written (the rebuild's page hook), so they overlap the half-built board however
    fast or loaded the machine is."""
    worker = small_batch_worker
    await insert_many(worker, 3_000, distinct_scores=50)
    expected_top = [e.to_public() for e in await scores.top(worker.pool, BOARD, WINDOW, 50)]
    reads: list[Any] = []

    async def read_while_half_built(copied: int) -> None:
        assert not await worker.leaderboard.is_ready(BOARD, WINDOW)
        assert await worker.redis.zcard(KEYS.rebuild_ranking) == copied  # the half-built board
        reads.append((await api.get("/api/leaderboard/top?limit=50")).json())

    assert await rebuild(worker, BOARD, WINDOW, on_page=read_while_half_built) == "rebuilt:3000"
    assert len(reads) == 30
    assert all(read == expected_top for read in reads)
    await assert_redis_equals_db(worker)
    assert (await api.get("/api/leaderboard/top?limit=50")).json() == expected_top


# --- Watermark catch-up ----------------------------------------------------------------------


async def test_rows_changed_after_a_rebuild_are_caught_up(worker: WorkerContext) -> None:
    await insert_many(worker, 300, distinct_scores=20)
    assert (await run_reconcile(worker)).startswith("rebuilt:300,")
    await assert_redis_equals_db(worker)
    watermark_before = float(await worker.redis.get(KEYS.watermark))

    # Changes made straight in the database (as the write path does: clock_timestamp per row).
    changed = await worker.pool.fetch(
        """
        UPDATE scores SET score = score + 1000, reached_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE user_id IN (SELECT user_id FROM scores ORDER BY user_id LIMIT 5)
        RETURNING user_id, score
        """
    )
    newcomer = uuid.uuid4()
    await worker.pool.execute("INSERT INTO users (id, display_name) VALUES ($1, 'Newcomer')", newcomer)
    await worker.pool.execute(
        "INSERT INTO scores (board_id, user_id, score, reached_at) VALUES ($1, $2, 5000, clock_timestamp())",
        BOARD,
        newcomer,
    )

    result = await run_reconcile(worker)
    assert result == "repaired:6"
    await assert_redis_equals_db(worker)
    assert float(await worker.redis.get(KEYS.watermark)) > watermark_before
    events = await score_events(worker)
    assert sorted((e["userId"], e["newScore"]) for e in events) == sorted(
        [(str(r["user_id"]), r["score"]) for r in changed] + [(str(newcomer), 5000)]
    )
    assert next(e for e in events if e["userId"] == str(newcomer))["rank"] == 1
    # Once caught up, running again repairs nothing and announces nothing new.
    assert await run_reconcile(worker) == "repaired:0"
    assert len(await score_events(worker)) == 6


async def test_catch_up_pages_through_rows_sharing_one_updated_at(
    small_batch_worker: WorkerContext,
) -> None:
    """A bulk statement stamps many rows with the same updated_at (now() is per transaction):
    more of them than one page must all reach Redis."""
    worker = small_batch_worker
    await insert_many(worker, 250, distinct_scores=20)
    assert (await run_reconcile(worker)).startswith("rebuilt:250,")
    await assert_redis_equals_db(worker)

    await worker.pool.execute(
        "UPDATE scores SET score = score + 7, reached_at = now(), updated_at = now() WHERE board_id = $1",
        BOARD,
    )
    for _ in range(3):
        await run_reconcile(worker)
    await assert_redis_equals_db(worker)


# --- Several reconcilers at once -------------------------------------------------------------


async def test_concurrent_reconciles_leave_redis_equal_to_the_database(
    worker: WorkerContext, small_batch_worker: WorkerContext
) -> None:
    await insert_many(worker, 2_000, distinct_scores=100)
    results = await asyncio.gather(
        run_reconcile(worker), run_reconcile(small_batch_worker), run_reconcile(worker)
    )
    rebuilt = [r for r in results if r.startswith("rebuilt:")]
    assert len(rebuilt) == 1, results  # the lock: one rebuild
    assert sum(r.startswith("rebuild-elsewhere") for r in results) == 2, results
    await assert_redis_equals_db(worker)
    await run_reconcile(small_batch_worker)
    await assert_redis_equals_db(worker)


async def test_a_reconcile_during_anothers_rebuild_never_announces_a_rank_from_the_half_built_board(
    worker: WorkerContext, small_batch_worker: WorkerContext
) -> None:
    """The next cron tick (another worker) runs while a long rebuild is still going: it must not
    announce ranks read off the partial ZSET."""
    await insert_many(worker, 3_000, distinct_scores=100)
    rebuilding = asyncio.create_task(run_reconcile(small_batch_worker))  # batches of 100
    while not (
        await worker.redis.zcard(KEYS.rebuild_ranking) > 0
        and not await worker.leaderboard.is_ready(BOARD, WINDOW)
    ):
        assert not rebuilding.done()
        await asyncio.sleep(0)

    second = await run_reconcile(worker)
    first = await rebuilding
    assert first.startswith("rebuilt:3000,")
    assert second.startswith("rebuild-elsewhere")
    await assert_redis_equals_db(worker)
    truth = {user: rank for rank, (user, _) in enumerate(await db_board(worker), start=1)}
    wrong = [e for e in await score_events(worker) if e["rank"] != truth[uuid.UUID(e["userId"])]]
    assert wrong == [], f"{len(wrong)} user_score_updated events carry a wrong rank, e.g. {wrong[:3]}"
