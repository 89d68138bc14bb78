"""runtime_flags: the one row of operator switches (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg

from scoreboard.db.pool import Connection, Executor
from scoreboard.domain.flags import RuntimeFlags, StoredFlags

_SELECT = (
    "SELECT increments, realtime, rate_limit_user_per_min, rate_limit_ip_per_min, version FROM runtime_flags"
)


def _stored(row: asyncpg.Record | None) -> StoredFlags:
    if row is None:  # the row was deleted by hand: the defaults, as a fresh install has them
        return StoredFlags(RuntimeFlags(), 0)
    flags = RuntimeFlags(
        increments=row["increments"],
        realtime=row["realtime"],
        rate_limit_user_per_min=row["rate_limit_user_per_min"],
        rate_limit_ip_per_min=row["rate_limit_ip_per_min"],
    )
    return StoredFlags(flags, row["version"])


async def read(executor: Executor) -> StoredFlags:
    return _stored(await executor.fetchrow(_SELECT))


async def update(connection: Connection, changes: dict[str, Any]) -> tuple[StoredFlags, StoredFlags]:
    """Apply `changes` (flag name -> value) in the caller's transaction; (before, after).

    The row is locked first, so two admins changing different flags at once both take effect
    and each audit row's `before` is the state its change really replaced.
    """
    before = _stored(await connection.fetchrow(f"{_SELECT} FOR UPDATE"))
    after = dataclasses.replace(before.flags, **changes)
    version = await connection.fetchval(
        "INSERT INTO runtime_flags AS f "
        "(id, increments, realtime, rate_limit_user_per_min, rate_limit_ip_per_min) "
        "VALUES (true, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET "
        "increments = EXCLUDED.increments, realtime = EXCLUDED.realtime, "
        "rate_limit_user_per_min = EXCLUDED.rate_limit_user_per_min, "
        "rate_limit_ip_per_min = EXCLUDED.rate_limit_ip_per_min, "
        "version = f.version + 1, updated_at = clock_timestamp() RETURNING version",
        after.increments,
        after.realtime,
        after.rate_limit_user_per_min,
        after.rate_limit_ip_per_min,
    )
    return before, StoredFlags(after, version)
