"""Hidden users (banned, quarantined) leave every board's Redis ranking, and come back.

The truth is user_moderation in PostgreSQL. Each user's current state there is asserted on
every board's current window (moderate.lua moves the entry out of the ranking or back), which
is idempotent, so the same change may arrive several ways: the `moderate_users` job the API
enqueues at once, the feed every reconcile tick reads (changes since the watermark minus the
safety margin), and a rebuild, which starts from the hidden users of its start and asserts the
changes made while it ran. A Top 10 that lost or regained someone is published again.
See docs/decisions/0009-hidden-users-leave-the-rankings.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from scoreboard.db import moderation
from scoreboard.db.moderation import UserState
from scoreboard.redis_store.keys import MODERATION_WATERMARK
from services.worker.context import WorkerContext, context_of

PAGE = 5000
TICK_BUDGET_S = 0.3


async def moderate_users(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """arq job: these users' states changed; read them from the database and apply them."""
    context = context_of(ctx)
    states = await moderation.states_of(context.pool, [UUID(user) for user in payload["userIds"]])
    return f"changed:{await assert_states(context, states)}"


async def assert_states(
    context: WorkerContext, states: dict[UUID, UserState], *, only: tuple[str, str] | None = None
) -> int:
    """Apply the states on every board's current window (or on `only`, a board and window);
    how many ranking entries moved."""
    if not states:
        return 0
    hide = {str(user): state.hidden for user, state in states.items()}
    now = datetime.now(UTC)
    windows = [only] if only else [(board.id, board.window_at(now).id) for board in context.boards.values()]
    moved = 0
    for board_id, window_id in windows:
        changed = await context.leaderboard.moderate(board_id, window_id, hide)
        if changed:
            context.publisher.mark_dirty(board_id, window_id)
        moved += changed
    return moved


async def sync_moderation(context: WorkerContext) -> int:
    """One tick of the moderation change feed; returns how many ranking entries moved."""
    margin = timedelta(seconds=context.settings.reconcile_margin_s)
    stored = await context.redis.get(MODERATION_WATERMARK)
    watermark = datetime.fromtimestamp(float(stored), UTC) if stored else datetime.now(UTC) - margin
    moved, newest = await assert_changes_since(context, watermark - margin)
    await context.redis.set(MODERATION_WATERMARK, f"{max(watermark, newest).timestamp():.6f}")
    return moved


async def assert_changes_since(
    context: WorkerContext, since: datetime, *, only: tuple[str, str] | None = None
) -> tuple[int, datetime]:
    """Assert every state changed since `since` (within one tick's budget); how many ranking
    entries moved, and the newest change read."""
    cursor: moderation.Cursor = (since, moderation.NIL_UUID)
    moved = 0
    deadline = time.monotonic() + TICK_BUDGET_S
    while True:
        found, cursor = await moderation.changed_after(context.pool, cursor, PAGE)
        moved += await assert_states(context, {user: m.state for user, m in found.items()}, only=only)
        if len(found) < PAGE or time.monotonic() > deadline:
            return moved, cursor[0]
