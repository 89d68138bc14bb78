"""Keyset paging for the admin lists (adjustments, reviews): the rows of one status, or of every
status, older than a `seq`, newest first. A `seq` never repeats, so a page never skips or repeats
a row, however many are added meanwhile (ARCHITECTURE.md: Operators).

The table modules name what they select (columns and joins); the paging is the same for all.
"""

from __future__ import annotations

from enum import StrEnum

import asyncpg

from scoreboard.db.pool import Executor


async def newest_first(
    executor: Executor,
    select: str,
    *,
    table: str,
    status: StrEnum | None,
    before_seq: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """`select` is a statement's SELECT ... FROM ... part; `table` is the name or alias in it whose
    `status` and `seq` columns page (the SELECT may join other tables)."""
    return await executor.fetch(
        f"{select} WHERE ($1::text IS NULL OR {table}.status = $1) "
        f"AND ($2::bigint IS NULL OR {table}.seq < $2) ORDER BY {table}.seq DESC LIMIT $3",
        status.value if status else None,
        before_seq,
        limit,
    )
