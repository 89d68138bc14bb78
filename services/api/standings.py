"""Where a read comes from: Redis for a board's current window, PostgreSQL when Redis is away,
the window is being (re)built, or the window is a past one (its final standings, exactly).

Every read route and the increment's rank go through here, so the fallback (and its metric) is
decided in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from scoreboard.db import scores
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.boards import Board
from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.domain.models import OwnStanding, RankedEntry
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.leaderboard import REDIS_UNREADABLE
from services.api.context import ApiContext


def _unavailable() -> Unavailable:
    return Unavailable(
        "neither Redis nor the database can serve this now", reason=Reason.DATABASE_UNAVAILABLE
    )


def _is_current(board: Board, window_id: str) -> bool:
    return board.window_at(datetime.now(UTC)).id == window_id


async def ranked_slice(
    context: ApiContext, board: Board, window_id: str, limit: int, offset: int = 0
) -> list[RankedEntry]:
    shared = board.shared_ranks
    if _is_current(board, window_id):
        try:
            entries = await context.leaderboard.top(board.id, window_id, limit, offset, shared=shared)
            if entries is not None:
                return entries
        except REDIS_DOWN:
            pass
        context.metrics.read_fallbacks.inc()
    try:
        return await scores.top(context.pool, board.id, window_id, limit, offset, shared=shared)
    except DB_DOWN as error:
        raise _unavailable() from error


async def own_standing(
    context: ApiContext, board: Board, window_id: str, user_id: UUID
) -> OwnStanding | None:
    """The user's own score and rank (where they would stand, when hidden), or None when they
    have no score; Unavailable when neither store answers."""
    if _is_current(board, window_id):
        try:
            return await context.leaderboard.own_standing(
                board.id, window_id, user_id, shared=board.shared_ranks
            )
        except REDIS_UNREADABLE:
            context.metrics.read_fallbacks.inc()
    return await _own_standing_from_database(context, board, window_id, user_id)


async def _own_standing_from_database(
    context: ApiContext, board: Board, window_id: str, user_id: UUID
) -> OwnStanding | None:
    try:
        return await scores.own_standing(
            context.pool, board.id, window_id, user_id, shared=board.shared_ranks
        )
    except DB_DOWN as error:
        raise _unavailable() from error


async def rank_now(
    context: ApiContext, board: Board, window_id: str, user_id: UUID, *, from_database: bool = False
) -> int | None:
    """The rank now, or None when the user has none or no store can tell (a write stands anyway)."""
    try:
        if from_database:
            context.metrics.read_fallbacks.inc()
            found = await _own_standing_from_database(context, board, window_id, user_id)
        else:
            found = await own_standing(context, board, window_id, user_id)
    except Unavailable:
        return None
    return found.rank if found else None
