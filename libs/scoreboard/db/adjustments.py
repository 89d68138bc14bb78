"""adjustments: score corrections proposed by one admin and applied once another approves.

Every change happens inside the caller's transaction, with its audit row. Approving locks the
adjustment's row first, so racing approvals are served one after the other and the second finds
it approved already; the event it makes is keyed by the adjustment's id (score_events is
unique on (user_id, action_id)), so it can never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

from scoreboard.db import paging
from scoreboard.db.pool import Connection, Executor
from scoreboard.db.work_items import WorkItem


class AdjustmentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Adjustment(WorkItem[AdjustmentStatus]):
    board_id: str
    window_id: str
    delta: int
    reason: str
    proposed_by: str
    proposed_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    event_id: int | None
    applied_delta: int | None
    score_after: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            **WorkItem.to_json(self),
            "board": self.board_id,
            "window": self.window_id,
            "delta": self.delta,
            "reason": self.reason,
            "proposedBy": self.proposed_by,
            "proposedAt": self.proposed_at.isoformat(),
            "reviewedBy": self.reviewed_by,
            "reviewedAt": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "reviewReason": self.review_reason,
            "appliedDelta": self.applied_delta,
            "scoreAfter": self.score_after,
        }


_COLUMNS = (
    "id, seq, user_id, board_id, window_id, delta, reason, status, proposed_by, proposed_at, "
    "reviewed_by, reviewed_at, review_reason, event_id, applied_delta, score_after"
)
_SELECT = f"SELECT {_COLUMNS} FROM adjustments"  # noqa: S608 - fixed columns


def _adjustment(row: asyncpg.Record) -> Adjustment:
    values = dict(row)
    values["status"] = AdjustmentStatus(values["status"])
    return Adjustment(**values)


async def propose(
    connection: Connection,
    *,
    adjustment_id: UUID,
    user_id: UUID,
    board_id: str,
    window_id: str,
    delta: int,
    reason: str,
    proposed_by: str,
) -> Adjustment:
    row = await connection.fetchrow(
        "INSERT INTO adjustments (id, user_id, board_id, window_id, delta, reason, proposed_by) "  # noqa: S608
        f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
        adjustment_id,
        user_id,
        board_id,
        window_id,
        delta,
        reason,
        proposed_by,
    )
    assert row is not None
    return _adjustment(row)


async def lock(connection: Connection, adjustment_id: UUID) -> Adjustment | None:
    """The adjustment, locked until the end of the caller's transaction; None when unknown."""
    row = await connection.fetchrow(
        f"{_SELECT} WHERE id = $1 FOR UPDATE",
        adjustment_id,
    )
    return None if row is None else _adjustment(row)


@dataclass(frozen=True, slots=True)
class Applied:
    """What an approved adjustment did: its event, and the score it left on its board window."""

    event_id: int
    applied_delta: int
    score_after: int
    reached_at: datetime


async def apply(
    connection: Connection, adjustment: Adjustment, *, ip: str | None, user_agent: str | None
) -> Applied:
    """The adjustment's one event and its score (scoreboard_apply_adjustment: never below 0)."""
    row = await connection.fetchrow(
        "SELECT * FROM scoreboard_apply_adjustment($1, $2, $3, $4, $5, $6, $7)",
        adjustment.id,
        adjustment.user_id,
        adjustment.board_id,
        adjustment.window_id,
        adjustment.delta,
        ip,
        user_agent[:512] if user_agent else None,
    )
    assert row is not None
    return Applied(row["event_id"], row["applied_delta"], row["score_after"], row["reached_at"])


async def review(
    connection: Connection,
    adjustment_id: UUID,
    *,
    status: AdjustmentStatus,
    reviewed_by: str,
    reason: str,
    applied: Applied | None = None,
) -> Adjustment:
    row = await connection.fetchrow(
        "UPDATE adjustments SET status = $2, reviewed_by = $3, reviewed_at = clock_timestamp(), "  # noqa: S608
        "review_reason = $4, event_id = $5, applied_delta = $6, score_after = $7 "
        f"WHERE id = $1 RETURNING {_COLUMNS}",
        adjustment_id,
        status.value,
        reviewed_by,
        reason,
        applied.event_id if applied else None,
        applied.applied_delta if applied else None,
        applied.score_after if applied else None,
    )
    assert row is not None
    return _adjustment(row)


async def page(
    executor: Executor, *, status: AdjustmentStatus | None, before_seq: int | None, limit: int
) -> list[Adjustment]:
    """Newest first, keyset-paged: those proposed before `before_seq` (all when None)."""
    rows = await paging.newest_first(
        executor, _SELECT, table="adjustments", status=status, before_seq=before_seq, limit=limit
    )
    return [_adjustment(row) for row in rows]
