"""scores: ranking reads for the database fallback, and change feeds for the reconciler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from scoreboard.db.pool import Executor
from scoreboard.domain.models import OwnStanding, RankedEntry, ScoreState
from scoreboard.domain.ranking import shared_ranks, to_micros, unique_ranks

_RANKED_COLUMNS = "s.user_id, s.score, u.display_name, u.is_public"
_ORDER = "s.score DESC, s.reached_at ASC, s.user_id ASC"


def _shown(alias: str) -> str:
    """The row's user is not hidden (banned or quarantined: they leave the public rankings, and
    the ranks below them close up; docs/decisions/0011)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM user_moderation m WHERE m.user_id = {alias}.user_id "  # noqa: S608
        "AND m.state <> 'visible')"
    )


def _ranked(rows: list[asyncpg.Record], ranks: list[int]) -> list[RankedEntry]:
    return [
        RankedEntry(
            rank=rank,
            user_id=row["user_id"],
            display_name=row["display_name"],
            is_public=row["is_public"],
            score=row["score"],
        )
        for row, rank in zip(rows, ranks, strict=True)
    ]


async def top(
    executor: Executor, board_id: str, window_id: str, limit: int, offset: int = 0, *, shared: bool = False
) -> list[RankedEntry]:
    rows = await executor.fetch(
        f"SELECT {_RANKED_COLUMNS} FROM scores s JOIN users u ON u.id = s.user_id "  # noqa: S608
        f"WHERE s.board_id = $1 AND s.window_id = $2 AND {_shown('s')} ORDER BY {_ORDER} LIMIT $3 OFFSET $4",
        board_id,
        window_id,
        limit,
        offset,
    )
    if not shared or not rows:
        return _ranked(rows, unique_ranks(len(rows), offset))
    first = 1
    if offset:  # the first row's shared rank: one more than the scores above it
        first += await executor.fetchval(
            f"SELECT count(*) FROM scores s WHERE s.board_id = $1 AND s.window_id = $2 AND s.score > $3 "  # noqa: S608
            f"AND {_shown('s')}",
            board_id,
            window_id,
            rows[0]["score"],
        )
    return _ranked(rows, shared_ranks([row["score"] for row in rows], offset, first))


async def score_and_rank(
    executor: Executor, board_id: str, window_id: str, user_id: UUID, *, shared: bool = False
) -> tuple[int, int] | None:
    """The user's (score, rank) by the ranking order, or None when they have no score."""
    found = await own_standing(executor, board_id, window_id, user_id, shared=shared)
    return None if found is None else (found.score, found.rank)


async def own_standing(
    executor: Executor, board_id: str, window_id: str, user_id: UUID, *, shared: bool = False
) -> OwnStanding | None:
    """The user's own score and rank among the shown users (where they would stand, if hidden
    themselves), or None when they have no score."""
    ahead = _AHEAD_SHARED if shared else _AHEAD_UNIQUE
    row = await executor.fetchrow(
        f"""
        SELECT me.score,
               1 + (SELECT count(*) FROM scores o
                    WHERE o.board_id = me.board_id AND o.window_id = me.window_id AND ({ahead})
                      AND {_shown("o")}) AS rank,
               NOT {_shown("me")} AS hidden
        FROM scores me WHERE me.board_id = $1 AND me.window_id = $2 AND me.user_id = $3
        """,  # noqa: S608 - fixed conditions, no input
        board_id,
        window_id,
        user_id,
    )
    return None if row is None else OwnStanding(row["score"], row["rank"], row["hidden"])


# Who ranks ahead of `me`: a better place in the order (unique ranks), or a higher score (shared).
_AHEAD_UNIQUE = (
    "o.score > me.score OR (o.score = me.score AND (o.reached_at < me.reached_at "
    "OR (o.reached_at = me.reached_at AND o.user_id < me.user_id)))"
)
_AHEAD_SHARED = "o.score > me.score"


NIL_UUID = UUID(int=0)


@dataclass(frozen=True, slots=True)
class ChangeCursor:
    """A position in the change feed: rows sharing one updated_at are paged through, not skipped."""

    updated_at: datetime
    board_id: str = ""
    window_id: str = ""
    user_id: UUID = NIL_UUID


async def changed_since(
    executor: Executor, after: ChangeCursor, limit: int
) -> tuple[list[ScoreState], ChangeCursor]:
    """Rows changed after the cursor, in (updated_at, board_id, window_id, user_id) order, and
    the next cursor."""
    rows = await executor.fetch(
        "SELECT board_id, window_id, user_id, score, reached_at, updated_at, "
        "coalesce(event_id, 0) AS version FROM scores "
        "WHERE (updated_at, board_id, window_id, user_id) > ($1, $2, $3, $4) "
        "ORDER BY updated_at, board_id, window_id, user_id LIMIT $5",
        after.updated_at,
        after.board_id,
        after.window_id,
        after.user_id,
        limit,
    )
    states = [
        ScoreState(
            r["board_id"], r["user_id"], r["score"], to_micros(r["reached_at"]), r["window_id"], r["version"]
        )
        for r in rows
    ]
    if not rows:
        return states, after
    last = rows[-1]
    return states, ChangeCursor(last["updated_at"], last["board_id"], last["window_id"], last["user_id"])


async def oldest_open_change(executor: Executor) -> datetime | None:
    """A time before which no row can still appear in the change feed: the start of the oldest
    transaction open on this database (a row's `updated_at` is stamped inside its transaction,
    so never earlier), or now when none is open; on the database's clock, as `updated_at` is.
    None when a session of another role is hidden from us (no `pg_read_all_stats`): then nobody
    can say.

    Read it before a scan: every row the scan does not see then belongs to a transaction that
    was open at this read, or began after it (docs/decisions/0018-reconciler-safe-point.md).
    """
    row = await executor.fetchrow(
        "SELECT bool_or(backend_type IS NULL AND usename IS NOT NULL) AS hidden, "
        "least(min(xact_start) FILTER (WHERE backend_type = 'client backend'), clock_timestamp()) AS bound "
        "FROM pg_stat_activity WHERE datname = current_database()"
    )
    assert row is not None  # an aggregate answers one row
    return None if row["hidden"] else row["bound"]


@dataclass(frozen=True, slots=True)
class BoardPage:
    """One page of a board, in the columns the Redis rebuild writes (parallel lists)."""

    users: list[str]  # user ids as text
    scores: list[int]
    members: list[str]  # encode_member(user_id, reached_at_us)
    names: list[str]
    public: list[bool]
    versions: list[int]  # the event that made each score (0: from before versions)

    def __len__(self) -> int:
        return len(self.users)


# domain.ranking.encode_member, without a datetime or a big int per row (a rebuild encodes a
# million members). hex16(2^64-1 - reached_at_us) is the 64-bit NOT of reached_at_us: PostgreSQL
# computes it (to_hex prints a negative bigint as its two's complement, always 16 digits).
# hex32(2^128-1 - user_id) is every hex digit of the uuid replaced by 15 minus it: a str.translate
# here (translate() in SQL costs PostgreSQL several times more). A test compares both on every row.
_REACHED_HEX_SQL = "to_hex(~((extract(epoch FROM s.reached_at) * 1000000)::bigint))"
_INVERT_UUID = str.maketrans("0123456789abcdef", "fedcba9876543210", "-")
_PAGE_SQL = (
    f"SELECT s.user_id::text, s.score, {_REACHED_HEX_SQL}, u.display_name, u.is_public, "  # noqa: S608
    "coalesce(s.event_id, 0) "
    "FROM scores s JOIN users u ON u.id = s.user_id "
    # u.id > $2 as well: without it the merge join walks users from the first id on every page.
    "WHERE s.board_id = $1 AND s.window_id = $2 AND s.user_id > $3::uuid AND u.id > $3::uuid "
    "ORDER BY s.user_id LIMIT $4"
)


async def _board_page(
    executor: Executor, board_id: str, window_id: str, after: str, batch_size: int
) -> BoardPage:
    rows = await executor.fetch(_PAGE_SQL, board_id, window_id, after, batch_size)
    users = [r[0] for r in rows]
    return BoardPage(
        users=users,
        scores=[r[1] for r in rows],
        members=[r[2] + user.translate(_INVERT_UUID) for r, user in zip(rows, users, strict=True)],
        names=[r[3] for r in rows],
        public=[r[4] for r in rows],
        versions=[r[5] for r in rows],
    )


async def iterate_board(
    executor: Executor, board_id: str, window_id: str, batch_size: int
) -> AsyncGenerator[BoardPage, None]:
    """Every score of a board's window with its owner's name and visibility, in pages (keyset paging by
    user id, each page its own short query, so no transaction stays open for the whole board).

    The next page is fetched while the caller works on the current one. Close the iterator
    (contextlib.aclosing) when not reading it to the end, so that fetch is cancelled.
    """
    upcoming: asyncio.Future[BoardPage] | None = asyncio.ensure_future(
        _board_page(executor, board_id, window_id, str(NIL_UUID), batch_size)
    )
    try:
        while upcoming is not None:
            page = await upcoming
            upcoming = None
            if len(page) == batch_size:  # a short page is the last one
                upcoming = asyncio.ensure_future(
                    _board_page(executor, board_id, window_id, page.users[-1], batch_size)
                )
            if page:
                yield page
    finally:
        if upcoming is not None:
            upcoming.cancel()


async def prune_windows_before(executor: Executor, board_id: str, oldest_kept: str, batch: int) -> int:
    """Delete up to `batch` scores of the board's windows older than `oldest_kept` (window ids of
    one board sort as their windows do); the caller repeats while it returns `batch`. Small
    batches, each its own statement: no long lock, no long transaction."""
    status = await executor.execute(
        "DELETE FROM scores WHERE ctid = ANY (ARRAY("
        "SELECT ctid FROM scores WHERE board_id = $1 AND window_id < $2 LIMIT $3))",
        board_id,
        oldest_kept,
        batch,
    )
    return int(status.rsplit(" ", 1)[1])
