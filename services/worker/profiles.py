"""Profile changes (a name, a privacy choice) reach every reader and stream within about a second.

Profiles live in PostgreSQL; a trigger moves users.updated_at with either field, whoever changed
it (the API, an increment's upsert, an operator's UPDATE). Every reconcile tick reads what
changed since the profile watermark minus the safety margin, stores what differs from the Redis
profile cache and, when something did, has every board's Top 10 published again: its rows did
not change, only how they are shown, so the publisher is told to forget what it published.
`refresh_profiles` does the same at once for users the API names (PUT /api/me/privacy).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from scoreboard.db import users
from scoreboard.redis_store.keys import PROFILES_WATERMARK
from scoreboard.redis_store.profiles import ProfileCache
from services.worker.context import WorkerContext, context_of

PAGE = 5000
TICK_BUDGET_S = 0.3


async def refresh_profiles(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """arq job: these users' profiles changed; read them from the database (the truth, whatever
    order jobs run in) and show them everywhere."""
    context = context_of(ctx)
    found = await users.profiles(context.pool, [UUID(user) for user in payload["userIds"]])
    changed = await ProfileCache(context.redis).refresh(found)
    if changed:
        await republish_tops(context)
    return f"changed:{len(changed)}"


async def sync_profiles(context: WorkerContext) -> int:
    """One tick of the profile change feed; returns how many cached profiles it corrected."""
    margin = timedelta(seconds=context.settings.reconcile_margin_s)
    stored = await context.redis.get(PROFILES_WATERMARK)
    watermark = datetime.fromtimestamp(float(stored), UTC) if stored else datetime.now(UTC) - margin
    cursor = (watermark - margin, users.NIL_UUID)
    cache = ProfileCache(context.redis)
    corrected = 0
    deadline = time.monotonic() + TICK_BUDGET_S
    while True:
        found, cursor = await users.changed_after(context.pool, cursor, PAGE)
        corrected += len(await cache.refresh(found))
        watermark = max(watermark, cursor[0])
        if len(found) < PAGE or time.monotonic() > deadline:
            break
    await context.redis.set(PROFILES_WATERMARK, f"{watermark.timestamp():.6f}")
    if corrected:
        await republish_tops(context)
    return corrected


async def republish_tops(context: WorkerContext) -> None:
    """Every board's current Top 10, published again (past windows are read from PostgreSQL)."""
    now = datetime.now(UTC)
    for board in context.boards.values():
        window_id = board.window_at(now).id
        await context.leaderboard.forget_top_claim(board.id, window_id)
        context.publisher.mark_dirty(board.id, window_id)
