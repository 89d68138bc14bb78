"""One ranking order everywhere (ARCHITECTURE.md: Ranking), checked on random boards full of ties.

Redis (ZSET score + encoded member), the database fallback query and a plain Python sort by
(-score, reached_at, user_id) must give every user the same rank and the same ordered lists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreboard.db import scores
from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import to_micros
from services.worker.context import WorkerContext

BOARD = "global"
WINDOW = "all"
BASE = datetime(2024, 5, 17, 12, 0, 0, 500_000, tzinfo=UTC)

# Few distinct values on purpose: most users tie on score, many tie on reached_at as well.
SCORES = st.one_of(
    st.sampled_from([0, 1, 2, 7, 2**40 - 1, 2**40]),
    st.integers(min_value=0, max_value=3),
)
MOMENTS = st.sampled_from(
    [
        BASE,
        BASE + timedelta(microseconds=1),
        BASE + timedelta(microseconds=2),
        BASE - timedelta(microseconds=1),
        BASE + timedelta(seconds=1),
        datetime(2001, 1, 1, tzinfo=UTC),  # decades apart: still exact
        datetime(2061, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
)
USER_IDS = st.one_of(
    st.uuids(),
    st.sampled_from([UUID(int=1), UUID(int=2**127), UUID(int=2**127 - 1), UUID(int=2**128 - 1)]),
)


@dataclass(frozen=True)
class Row:
    user_id: UUID
    score: int
    reached_at: datetime
    public: bool

    @property
    def name(self) -> str:
        return f"user-{str(self.user_id)[:8]}"


BOARDS = st.lists(
    st.builds(Row, USER_IDS, SCORES, MOMENTS, st.booleans()),
    min_size=5,
    max_size=60,
    unique_by=lambda row: row.user_id,
)


async def _insert(worker: WorkerContext, rows: list[Row]) -> None:
    """The board's users and scores in PostgreSQL, in place of an earlier example's; Redis empty."""
    await worker.pool.execute("TRUNCATE scores, users CASCADE")
    await worker.redis.flushdb()
    await worker.pool.executemany(
        "INSERT INTO users (id, display_name, is_public) VALUES ($1, $2, $3)",
        [(row.user_id, row.name, row.public) for row in rows],
    )
    await worker.pool.executemany(
        "INSERT INTO scores (board_id, user_id, score, reached_at) VALUES ($1, $2, $3, $4)",
        [(BOARD, row.user_id, row.score, row.reached_at) for row in rows],
    )


async def _load(worker: WorkerContext, rows: list[Row]) -> None:
    """Insert the board into PostgreSQL (alone) and copy it to Redis as a rebuild would."""
    await _insert(worker, rows)
    shuffled = list(rows)
    random.Random(len(rows)).shuffle(shuffled)
    states = [ScoreState(BOARD, row.user_id, row.score, to_micros(row.reached_at)) for row in shuffled]
    await worker.leaderboard.save_profiles({row.user_id: (row.name, row.public) for row in rows})
    await worker.leaderboard.apply(states)
    await worker.leaderboard.mark_ready(BOARD, WINDOW)


def _expected(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (-row.score, row.reached_at, row.user_id.int))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=BOARDS)
async def test_redis_db_and_python_agree_on_every_rank(worker: WorkerContext, rows: list[Row]) -> None:
    await _load(worker, rows)
    expected = _expected(rows)

    for position, row in enumerate(expected, start=1):
        from_redis = await worker.leaderboard.score_and_rank(BOARD, WINDOW, row.user_id)
        from_db = await scores.score_and_rank(worker.pool, BOARD, WINDOW, row.user_id)
        assert from_redis == (row.score, position), (row, from_redis)
        assert from_db == (row.score, position), (row, from_db)

    want = [
        (position, row.user_id, row.score, row.name, row.public) for position, row in enumerate(expected, 1)
    ]
    redis_top = await worker.leaderboard.top(BOARD, WINDOW, len(rows))
    db_top = await scores.top(worker.pool, BOARD, WINDOW, len(rows))
    assert redis_top is not None
    got_redis = [(e.rank, e.user_id, e.score, e.display_name, e.is_public) for e in redis_top]
    got_db = [(e.rank, e.user_id, e.score, e.display_name, e.is_public) for e in db_top]
    assert got_redis == want
    assert got_db == want
    # The public shape is the same too (anonymised private users keep their rank).
    assert [e.to_public() for e in redis_top] == [e.to_public() for e in db_top]

    # Pages (offset/limit) agree as well: around/me and the Top N read slices.
    for offset in (1, 3, len(rows) // 2):
        page_redis = await worker.leaderboard.top(BOARD, WINDOW, 4, offset)
        page_db = await scores.top(worker.pool, BOARD, WINDOW, 4, offset)
        assert page_redis is not None
        assert [(e.rank, e.user_id) for e in page_redis] == [(e.rank, e.user_id) for e in page_db]
        assert [(e.rank, e.user_id) for e in page_db] == [(r[0], r[1]) for r in want[offset : offset + 4]]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=BOARDS, seed=st.integers(min_value=0, max_value=2**32))
async def test_live_applies_in_any_order_with_stale_copies_end_in_the_same_order(
    worker: WorkerContext, rows: list[Row], seed: int
) -> None:
    """The worker's live path (out of order, retried, stale copies) converges on the same ranking."""
    await _insert(worker, rows)
    final = [ScoreState(BOARD, row.user_id, row.score, to_micros(row.reached_at)) for row in rows]
    # An older, lower state for each user with a positive score (scores only grow).
    stale = [
        ScoreState(BOARD, s.user_id, s.score - 1, s.reached_at_us - 1_000_000) for s in final if s.score > 0
    ]
    copies = final + final + stale
    random.Random(seed).shuffle(copies)
    await worker.leaderboard.save_profiles({row.user_id: (row.name, row.public) for row in rows})
    for start in range(0, len(copies), 7):
        await worker.leaderboard.apply(copies[start : start + 7])
    await worker.leaderboard.mark_ready(BOARD, WINDOW)

    expected = _expected(rows)
    redis_top = await worker.leaderboard.top(BOARD, WINDOW, len(rows) + 5)
    db_top = await scores.top(worker.pool, BOARD, WINDOW, len(rows) + 5)
    assert redis_top is not None
    assert [(e.user_id, e.score) for e in redis_top] == [(row.user_id, row.score) for row in expected]
    assert [(e.user_id, e.score) for e in db_top] == [(row.user_id, row.score) for row in expected]
    assert await worker.redis.zcard(f"sb:{{board:{BOARD}}}:ranking") == len(rows)


def _shared_ranks(rows: list[Row]) -> dict[UUID, int]:
    """Python's answer for a board with shared ranks: one more than the number of higher scores."""
    return {row.user_id: 1 + sum(1 for other in rows if other.score > row.score) for row in rows}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=BOARDS)
async def test_shared_ranks_agree_between_redis_db_and_python(worker: WorkerContext, rows: list[Row]) -> None:
    """A board with `ranks: shared` (1, 2, 2, 4): the same list order, equal scores one rank."""
    await _load(worker, rows)
    expected_order = _expected(rows)
    shared = _shared_ranks(rows)

    for row in rows:
        want = (row.score, shared[row.user_id])
        assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, row.user_id, shared=True) == want
        assert await scores.score_and_rank(worker.pool, BOARD, WINDOW, row.user_id, shared=True) == want

    for offset in (0, 1, 3, len(rows) // 2):
        page_redis = await worker.leaderboard.top(BOARD, WINDOW, 5, offset, shared=True)
        page_db = await scores.top(worker.pool, BOARD, WINDOW, 5, offset, shared=True)
        assert page_redis is not None
        want_page = [(shared[row.user_id], row.user_id) for row in expected_order[offset : offset + 5]]
        assert [(e.rank, e.user_id) for e in page_redis] == want_page
        assert [(e.rank, e.user_id) for e in page_db] == want_page
