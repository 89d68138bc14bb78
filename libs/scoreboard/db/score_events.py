"""score_events: the append-only audit log that is also the idempotency record."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from scoreboard.domain.models import IncrementRecord

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class NewIncrement:
    board_id: str
    user_id: UUID
    display_name: str
    action_id: UUID
    action_type: str
    delta: int
    request_hash: str
    source: str
    ip: str | None
    user_agent: str | None
    device_id: str | None


_APPLY = "SELECT * FROM scoreboard_apply_increment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


async def apply_increment(executor: Executor, item: NewIncrement) -> tuple[IncrementRecord, bool]:
    """Record the event and, if it is new, add it to the score, in one transaction.

    Returns the record and whether the user is public.
    """
    row = await executor.fetchrow(
        _APPLY,
        item.board_id,
        item.user_id,
        item.display_name,
        item.action_id,
        item.action_type,
        item.delta,
        item.request_hash,
        item.source,
        item.ip,
        item.user_agent[:512] if item.user_agent else None,
        item.device_id,
    )
    assert row is not None
    return _record(row)


_APPLY_MANY = (
    "SELECT * FROM scoreboard_apply_increments("
    "$1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::integer[], $7::text[], $8::text[], "
    "$9::inet[], $10::text[], $11::text[])"
)


async def apply_increments(
    executor: Executor, items: list[NewIncrement]
) -> list[tuple[IncrementRecord, bool]]:
    """Many increments in ONE transaction (one commit), each with the answer it would get alone."""
    rows = await executor.fetch(
        _APPLY_MANY,
        [item.board_id for item in items],
        [item.user_id for item in items],
        [item.display_name for item in items],
        [item.action_id for item in items],
        [item.action_type for item in items],
        [item.delta for item in items],
        [item.request_hash for item in items],
        [item.source for item in items],
        [item.ip for item in items],
        [item.user_agent[:512] if item.user_agent else None for item in items],
        [item.device_id for item in items],
    )
    by_ordinal = {row["ordinal"]: _record(row) for row in rows}
    return [by_ordinal[index + 1] for index in range(len(items))]


async def recorded(executor: Executor, user_id: UUID, action_id: UUID) -> IncrementRecord | None:
    """The stored outcome of (user, action), as a replay reports it; None when there is none."""
    row = await executor.fetchrow(
        "SELECT id AS event_id, score_after, created_at AS reached_at, request_hash, false AS inserted, "
        "true AS is_public FROM score_events WHERE user_id = $1 AND action_id = $2",
        user_id,
        action_id,
    )
    return None if row is None else _record(row)[0]


def _record(row: asyncpg.Record) -> tuple[IncrementRecord, bool]:
    record = IncrementRecord(
        event_id=row["event_id"],
        score_after=row["score_after"],
        reached_at=row["reached_at"],
        request_hash=row["request_hash"],
        inserted=row["inserted"],
    )
    return record, bool(row["is_public"])


async def totals_mismatch(executor: Executor) -> list[asyncpg.Record]:
    """Users whose score differs from the sum of their events: must always be empty."""
    return await executor.fetch(
        """
        SELECT s.board_id, s.user_id, s.score, coalesce(sum(e.delta), 0) AS events_total
        FROM scores s
        LEFT JOIN score_events e ON e.board_id = s.board_id AND e.user_id = s.user_id
        GROUP BY s.board_id, s.user_id, s.score
        HAVING s.score <> coalesce(sum(e.delta), 0)
        """
    )
