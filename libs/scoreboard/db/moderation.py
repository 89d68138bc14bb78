"""user_moderation: who is hidden from the public rankings (banned, quarantined), and its change feed.

A user without a row is visible. A row is kept when its user becomes visible again, so every
process reading the feed (the API's banned set, the worker that moves entries in Redis) sees
that change as well. Changes happen inside the caller's transaction, with their audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from scoreboard.db.pool import Connection, Executor

NIL_UUID = UUID(int=0)


class UserState(StrEnum):
    VISIBLE = "visible"
    QUARANTINED = "quarantined"  # the anomaly detector's: plays and scores, hidden from others
    BANNED = "banned"  # an admin's: hidden, and refused increments and tickets

    @property
    def hidden(self) -> bool:
        return self is not UserState.VISIBLE


async def hidden_users(executor: Executor) -> dict[UUID, UserState]:
    rows = await executor.fetch("SELECT user_id, state FROM user_moderation WHERE state <> 'visible'")
    return {row["user_id"]: UserState(row["state"]) for row in rows}


async def states_of(executor: Executor, user_ids: list[UUID]) -> dict[UUID, UserState]:
    """The state of each user named (visible when they have no row)."""
    rows = await executor.fetch(
        "SELECT user_id, state FROM user_moderation WHERE user_id = ANY($1::uuid[])", user_ids
    )
    found = {row["user_id"]: UserState(row["state"]) for row in rows}
    return {user: found.get(user, UserState.VISIBLE) for user in user_ids}


Cursor = tuple[datetime, UUID]


@dataclass(frozen=True, slots=True)
class Moderation:
    state: UserState
    exempt_until: datetime | None = None  # cleared by a reviewer: not quarantined again before


async def changed_after(
    executor: Executor, after: Cursor, limit: int
) -> tuple[dict[UUID, Moderation], Cursor]:
    """States changed after the (updated_at, user_id) cursor, oldest first, and the next cursor."""
    rows = await executor.fetch(
        "SELECT user_id, state, exempt_until, updated_at FROM user_moderation "
        "WHERE (updated_at, user_id) > ($1, $2) ORDER BY updated_at, user_id LIMIT $3",
        after[0],
        after[1],
        limit,
    )
    found = {row["user_id"]: Moderation(UserState(row["state"]), row["exempt_until"]) for row in rows}
    return found, (rows[-1]["updated_at"], rows[-1]["user_id"]) if rows else after


async def lock_user(connection: Connection, user_id: UUID) -> UserState | None:
    """Lock the user's row for this transaction and return their state; None when no such user."""
    row = await connection.fetchrow(
        "SELECT coalesce(m.state, 'visible') AS state FROM users u "
        "LEFT JOIN user_moderation m ON m.user_id = u.id WHERE u.id = $1 FOR UPDATE OF u",
        user_id,
    )
    return None if row is None else UserState(row["state"])


async def set_state(
    connection: Connection, user_id: UUID, state: UserState, *, exempt_until: datetime | None = None
) -> None:
    await connection.execute(
        "INSERT INTO user_moderation AS m (user_id, state, exempt_until) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, exempt_until = EXCLUDED.exempt_until, "
        "updated_at = clock_timestamp()",
        user_id,
        state.value,
        exempt_until,
    )


async def quarantine(connection: Connection, user_id: UUID) -> bool:
    """Quarantine a visible user unless a reviewer cleared them recently; True when it happened."""
    row = await connection.fetchrow(
        "INSERT INTO user_moderation AS m (user_id, state) VALUES ($1, 'quarantined') "
        "ON CONFLICT (user_id) DO UPDATE SET state = 'quarantined', exempt_until = NULL, "
        "updated_at = clock_timestamp() "
        "WHERE m.state = 'visible' AND (m.exempt_until IS NULL OR m.exempt_until <= clock_timestamp()) "
        "RETURNING m.state",
        user_id,
    )
    return row is not None
