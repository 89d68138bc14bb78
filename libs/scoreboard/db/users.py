"""users: profiles (name, visibility), the caller's privacy choice, and their change feed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from scoreboard.db.pool import Executor

Profile = tuple[str, bool]  # display name, is public


async def profiles(executor: Executor, user_ids: list[UUID]) -> dict[UUID, Profile]:
    rows = await executor.fetch(
        "SELECT id, display_name, is_public FROM users WHERE id = ANY($1::uuid[])", user_ids
    )
    return {row["id"]: (row["display_name"], row["is_public"]) for row in rows}


async def set_public(executor: Executor, user_id: UUID, display_name: str, public: bool) -> Profile:
    """Record the user's choice (creating the user if they never played); their profile after it."""
    row = await executor.fetchrow(
        "INSERT INTO users AS u (id, display_name, is_public) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET is_public = EXCLUDED.is_public "
        "RETURNING u.display_name, u.is_public",
        user_id,
        display_name,
        public,
    )
    assert row is not None
    return row["display_name"], row["is_public"]


NIL_UUID = UUID(int=0)


async def changed_after(
    executor: Executor, after: tuple[datetime, UUID], limit: int
) -> tuple[dict[UUID, Profile], tuple[datetime, UUID]]:
    """Profiles changed after the (updated_at, id) cursor, oldest first, and the next cursor."""
    rows = await executor.fetch(
        "SELECT id, display_name, is_public, updated_at FROM users WHERE (updated_at, id) > ($1, $2) "
        "ORDER BY updated_at, id LIMIT $3",
        after[0],
        after[1],
        limit,
    )
    found = {row["id"]: (row["display_name"], row["is_public"]) for row in rows}
    return found, (rows[-1]["updated_at"], rows[-1]["id"]) if rows else after
