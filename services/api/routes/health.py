"""The API's readiness: ready with PostgreSQL alone, since it can serve every read from it."""

from __future__ import annotations

from starlette.requests import Request

from scoreboard.db.pool import is_reachable as database_reachable
from scoreboard.redis_store.connection import is_reachable as redis_reachable
from scoreboard.web.health import Readiness
from services.api.context import context_of


async def readiness(request: Request) -> Readiness:
    context = context_of(request)
    database = await database_reachable(context.pool)
    redis = await redis_reachable(context.redis)
    return Readiness(database, {"database": database, "redis": redis})
