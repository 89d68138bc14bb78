"""reviews: what the anomaly detector opened for a human to decide (clear, or ban).

At most one review is open per user (a unique partial index): a user who keeps breaking rules
while quarantined does not flood the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from scoreboard.db import paging
from scoreboard.db.pool import Connection, Executor
from scoreboard.db.work_items import WorkItem


class ReviewStatus(StrEnum):
    OPEN = "open"
    CLEARED = "cleared"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class Review(WorkItem[ReviewStatus]):
    display_name: str
    rule: str
    observed: dict[str, Any]
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            **WorkItem.to_json(self),
            "displayName": self.display_name,
            "rule": self.rule,
            "observed": self.observed,
            "openedAt": self.opened_at.isoformat(),
            "closedBy": self.closed_by,
            "closedAt": self.closed_at.isoformat() if self.closed_at else None,
            "closeReason": self.close_reason,
        }


_COLUMNS = (
    "r.id, r.seq, r.user_id, u.display_name, r.rule, r.observed, r.status, r.opened_at, r.closed_by, "
    "r.closed_at, r.close_reason"
)
_SELECT = f"SELECT {_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id"  # noqa: S608 - fixed


def _review(row: asyncpg.Record) -> Review:
    values = dict(row)
    values["status"] = ReviewStatus(values["status"])
    values["observed"] = orjson.loads(values["observed"])
    return Review(**values)


async def open_review(
    connection: Connection, *, review_id: UUID, user_id: UUID, rule: str, observed: dict[str, Any]
) -> bool:
    """Open a review unless one is open for this user already; True when opened."""
    status = await connection.execute(
        "INSERT INTO reviews (id, user_id, rule, observed) VALUES ($1, $2, $3, $4::jsonb) "
        "ON CONFLICT (user_id) WHERE status = 'open' DO NOTHING",
        review_id,
        user_id,
        rule,
        orjson.dumps(observed).decode(),
    )
    return status.endswith(" 1")


async def find(executor: Executor, review_id: UUID) -> Review | None:
    row = await executor.fetchrow(
        f"{_SELECT} WHERE r.id = $1",
        review_id,
    )
    return None if row is None else _review(row)


async def lock(connection: Connection, review_id: UUID) -> Review | None:
    """The review, locked until the end of the caller's transaction; None when unknown."""
    row = await connection.fetchrow(
        f"{_SELECT} WHERE r.id = $1 FOR UPDATE OF r",
        review_id,
    )
    return None if row is None else _review(row)


async def close(
    connection: Connection, review_id: UUID, *, status: ReviewStatus, closed_by: str, reason: str
) -> None:
    await connection.execute(
        "UPDATE reviews SET status = $2, closed_by = $3, closed_at = clock_timestamp(), close_reason = $4 "
        "WHERE id = $1",
        review_id,
        status.value,
        closed_by,
        reason,
    )


async def close_open(
    connection: Connection, user_id: UUID, *, status: ReviewStatus, closed_by: str, reason: str
) -> UUID | None:
    """Close the user's open review, if any (a ban decides it); its id."""
    closed: UUID | None = await connection.fetchval(
        "UPDATE reviews SET status = $2, closed_by = $3, closed_at = clock_timestamp(), close_reason = $4 "
        "WHERE user_id = $1 AND status = 'open' RETURNING id",
        user_id,
        status.value,
        closed_by,
        reason,
    )
    return closed


async def page(
    executor: Executor, *, status: ReviewStatus | None, before_seq: int | None, limit: int
) -> list[Review]:
    """Newest first, keyset-paged: those opened before `before_seq` (all when None)."""
    rows = await paging.newest_first(
        executor, _SELECT, table="r", status=status, before_seq=before_seq, limit=limit
    )
    return [_review(row) for row in rows]
