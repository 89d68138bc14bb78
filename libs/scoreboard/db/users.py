"""users: profiles for hydrating names when the cache has none."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def profiles(
    executor: asyncpg.Pool | asyncpg.Connection, user_ids: list[UUID]
) -> dict[UUID, tuple[str, bool]]:
    rows = await executor.fetch(
        "SELECT id, display_name, is_public FROM users WHERE id = ANY($1::uuid[])", user_ids
    )
    return {row["id"]: (row["display_name"], row["is_public"]) for row in rows}
