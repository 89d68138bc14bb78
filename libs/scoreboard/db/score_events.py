"""score_events: the append-only audit log that is also the idempotency record."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import orjson

from scoreboard.db.pool import Executor
from scoreboard.domain.boards import Board, in_answer_order
from scoreboard.domain.models import BoardCount, IncrementRecord


@dataclass(frozen=True, slots=True)
class NewIncrement:
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


def board_spec(boards: Collection[Board]) -> str:
    """The boards as scoreboard_count_increment takes them (JSON, built once per process)."""
    return orjson.dumps(
        [
            {
                "id": board.id,
                "kind": board.rule.kind,
                "tz": board.rule.tz,
                "seconds": board.rule.seconds,
                "anchor": board.rule.anchor.isoformat() if board.rule.anchor else None,
                "types": sorted(board.types) if board.types is not None else None,
            }
            for board in in_answer_order(boards)
        ]
    ).decode()


_COUNT = "SELECT * FROM scoreboard_count_increment($1::jsonb, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


async def apply_increment(executor: Executor, spec: str, item: NewIncrement) -> tuple[IncrementRecord, bool]:
    """Record the event and, if it is new, add it to every board counting its type, in one
    transaction. Returns the record and whether the user is public."""
    row = await executor.fetchrow(
        _COUNT,
        spec,
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


_COUNT_MANY = (
    "SELECT * FROM scoreboard_count_increments($1::jsonb, "
    "$2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::integer[], $7::text[], $8::text[], "
    "$9::inet[], $10::text[], $11::text[])"
)


async def apply_increments(
    executor: Executor, spec: str, items: list[NewIncrement]
) -> list[tuple[IncrementRecord, bool]]:
    """Many increments in ONE transaction (one commit), each with the answer it would get alone."""
    rows = await executor.fetch(
        _COUNT_MANY,
        spec,
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
        "true AS is_public, coalesce(boards, jsonb_build_object(board_id, "
        "jsonb_build_object('window', 'all', 'score', score_after))) AS boards "
        "FROM score_events WHERE user_id = $1 AND action_id = $2",
        user_id,
        action_id,
    )
    return None if row is None else _record(row)[0]


def _record(row: asyncpg.Record) -> tuple[IncrementRecord, bool]:
    boards = orjson.loads(row["boards"])
    record = IncrementRecord(
        event_id=row["event_id"],
        score_after=row["score_after"],
        reached_at=row["reached_at"],
        request_hash=row["request_hash"],
        inserted=row["inserted"],
        boards={board: BoardCount(entry["window"], entry["score"]) for board, entry in boards.items()},
    )
    return record, bool(row["is_public"])


async def totals_mismatch(executor: Executor) -> list[asyncpg.Record]:
    """Scores that differ from the sum of the events counted on them (on that board, in that
    window), and events counted on a score that does not exist: must always be empty."""
    return await executor.fetch(
        """
        WITH counted AS (
            SELECT e.user_id, b.key AS board_id, b.value ->> 'window' AS window_id, e.delta
            FROM score_events e,
                 jsonb_each(coalesce(e.boards, jsonb_build_object(e.board_id, jsonb_build_object(
                     'window', 'all', 'score', e.score_after)))) AS b
        ), totals AS (
            SELECT board_id, window_id, user_id, sum(delta) AS events_total FROM counted
            GROUP BY board_id, window_id, user_id
        )
        SELECT coalesce(s.board_id, t.board_id) AS board_id, coalesce(s.window_id, t.window_id) AS window_id,
               coalesce(s.user_id, t.user_id) AS user_id, s.score, t.events_total
        FROM scores s FULL JOIN totals t USING (board_id, window_id, user_id)
        WHERE s.score IS DISTINCT FROM t.events_total
        """
    )


@dataclass(frozen=True, slots=True)
class CommittedEvent:
    """One increment as the anomaly detector reads it."""

    id: int
    user_id: UUID
    action_type: str
    delta: int
    at_s: float  # created_at, unix seconds (the database's clock)


_COMMITTED = (
    "SELECT id, user_id, action_type, delta, extract(epoch FROM created_at)::float8 AS at_s "
    "FROM score_events WHERE source <> 'admin' AND "
)


async def committed_after(executor: Executor, after_id: int, limit: int) -> list[CommittedEvent]:
    """Increments (not adjustments) with an id above `after_id`, in id order."""
    rows = await executor.fetch(_COMMITTED + "id > $1 ORDER BY id LIMIT $2", after_id, limit)
    return [CommittedEvent(*row) for row in rows]


async def committed_among(executor: Executor, ids: list[int]) -> list[CommittedEvent]:
    """Those of `ids` committed by now (ids are taken before commit: a later id may commit first)."""
    rows = await executor.fetch(_COMMITTED + "id = ANY($1::bigint[]) ORDER BY id", ids)
    return [CommittedEvent(*row) for row in rows]


async def newest_id(executor: Executor) -> int:
    return int(await executor.fetchval("SELECT coalesce(max(id), 0) FROM score_events"))
