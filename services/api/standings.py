"""Where a read comes from: Redis first, PostgreSQL when Redis is away or the board is rebuilt.

Every read route and the increment's rank go through here, so the fallback (and its metric) is
decided in one place.
"""

from __future__ import annotations

from uuid import UUID

from scoreboard.db import scores
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.domain.models import RankedEntry
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.leaderboard import REDIS_UNREADABLE
from services.api.context import ApiContext


def _unavailable() -> Unavailable:
    return Unavailable(
        "neither Redis nor the database can serve this now", reason=Reason.DATABASE_UNAVAILABLE
    )


async def ranked_slice(context: ApiContext, board: str, limit: int, offset: int = 0) -> list[RankedEntry]:
    try:
        entries = await context.leaderboard.top(board, limit, offset)
        if entries is not None:
            return entries
    except REDIS_DOWN:
        pass
    context.metrics.read_fallbacks.inc()
    try:
        return await scores.top(context.pool, board, limit, offset)
    except DB_DOWN as error:
        raise _unavailable() from error


async def score_and_rank(context: ApiContext, board: str, user_id: UUID) -> tuple[int, int] | None:
    """(score, rank), or None when the user has no score; Unavailable when neither store answers."""
    try:
        return await context.leaderboard.score_and_rank(board, user_id)
    except REDIS_UNREADABLE:
        return await score_and_rank_from_database(context, board, user_id)


async def score_and_rank_from_database(
    context: ApiContext, board: str, user_id: UUID
) -> tuple[int, int] | None:
    context.metrics.read_fallbacks.inc()
    try:
        return await scores.score_and_rank(context.pool, board, user_id)
    except DB_DOWN as error:
        raise _unavailable() from error
