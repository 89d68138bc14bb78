"""scores: ranking reads for the database fallback, and change feeds for the reconciler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from scoreboard.domain.models import RankedEntry, ScoreState
from scoreboard.domain.ranking import to_micros

Executor = asyncpg.Pool | asyncpg.Connection

_RANKED_COLUMNS = "s.user_id, s.score, u.display_name, u.is_public"
_ORDER = "s.score DESC, s.reached_at ASC, s.user_id ASC"


def _ranked(rows: list[asyncpg.Record], first_rank: int) -> list[RankedEntry]:
    return [
        RankedEntry(
            rank=first_rank + index,
            user_id=row["user_id"],
            display_name=row["display_name"],
            is_public=row["is_public"],
            score=row["score"],
        )
        for index, row in enumerate(rows)
    ]


async def top(executor: Executor, board_id: str, limit: int, offset: int = 0) -> list[RankedEntry]:
    rows = await executor.fetch(
        f"SELECT {_RANKED_COLUMNS} FROM scores s JOIN users u ON u.id = s.user_id "  # noqa: S608
        f"WHERE s.board_id = $1 ORDER BY {_ORDER} LIMIT $2 OFFSET $3",
        board_id,
        limit,
        offset,
    )
    return _ranked(rows, offset + 1)


async def score_and_rank(executor: Executor, board_id: str, user_id: UUID) -> tuple[int, int] | None:
    """The user's (score, rank) by the ranking order, or None when they have no score."""
    row = await executor.fetchrow(
        """
        SELECT me.score,
               1 + (SELECT count(*) FROM scores o
                    WHERE o.board_id = me.board_id
                      AND (o.score > me.score
                           OR (o.score = me.score AND (o.reached_at < me.reached_at
                               OR (o.reached_at = me.reached_at AND o.user_id < me.user_id))))
                   ) AS rank
        FROM scores me WHERE me.board_id = $1 AND me.user_id = $2
        """,
        board_id,
        user_id,
    )
    return None if row is None else (row["score"], row["rank"])


NIL_UUID = UUID(int=0)


@dataclass(frozen=True, slots=True)
class ChangeCursor:
    """A position in the change feed: rows sharing one updated_at are paged through, not skipped."""

    updated_at: datetime
    board_id: str = ""
    user_id: UUID = NIL_UUID


async def changed_since(
    executor: Executor, after: ChangeCursor, limit: int
) -> tuple[list[ScoreState], ChangeCursor]:
    """Rows changed after the cursor, in (updated_at, board_id, user_id) order, and the next cursor."""
    rows = await executor.fetch(
        "SELECT board_id, user_id, score, reached_at, updated_at FROM scores "
        "WHERE (updated_at, board_id, user_id) > ($1, $2, $3) "
        "ORDER BY updated_at, board_id, user_id LIMIT $4",
        after.updated_at,
        after.board_id,
        after.user_id,
        limit,
    )
    states = [ScoreState(r["board_id"], r["user_id"], r["score"], to_micros(r["reached_at"])) for r in rows]
    if not rows:
        return states, after
    last = rows[-1]
    return states, ChangeCursor(last["updated_at"], last["board_id"], last["user_id"])


async def iterate_board(
    executor: Executor, board_id: str, batch_size: int
) -> AsyncIterator[list[tuple[ScoreState, str, bool]]]:
    """Every score of a board with its owner's name and visibility, in batches (keyset paging)."""
    after = UUID(int=0)
    while True:
        rows = await executor.fetch(
            "SELECT s.user_id, s.score, s.reached_at, u.display_name, u.is_public "
            "FROM scores s JOIN users u ON u.id = s.user_id "
            "WHERE s.board_id = $1 AND s.user_id > $2 ORDER BY s.user_id LIMIT $3",
            board_id,
            after,
            batch_size,
        )
        if not rows:
            return
        yield [
            (
                ScoreState(board_id, r["user_id"], r["score"], to_micros(r["reached_at"])),
                r["display_name"],
                r["is_public"],
            )
            for r in rows
        ]
        after = rows[-1]["user_id"]


async def board_ids(executor: Executor) -> list[str]:
    rows = await executor.fetch("SELECT DISTINCT board_id FROM scores")
    return [row["board_id"] for row in rows]
