"""Liveness, readiness and metrics. The API is ready with PostgreSQL alone (it can serve from it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db.pool import is_reachable as database_reachable
from scoreboard.redis_store.connection import is_reachable as redis_reachable
from scoreboard.web.responses import JSONResponse
from services.api.context import context_of


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    context = context_of(request)
    database = await database_reachable(context.pool)
    redis = await redis_reachable(context.redis)
    body = {"status": "ready" if database else "unready", "database": database, "redis": redis}
    return JSONResponse(body, status_code=200 if database else 503)


async def metrics(request: Request) -> Response:
    context = context_of(request)
    return Response(context.metrics.render(), media_type=context.metrics.content_type)
