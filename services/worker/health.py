"""The worker's small HTTP side: /healthz, /readyz and /metrics for probes and Prometheus."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import asyncpg
import uvicorn
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scoreboard.db.pool import is_reachable as database_reachable
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.connection import is_reachable as redis_reachable
from scoreboard.redis_store.keys import JOB_QUEUE
from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.errors import EXCEPTION_HANDLERS, InternalErrors
from scoreboard.web.middleware import RequestContextMiddleware
from scoreboard.web.responses import JSONResponse


def create_health_app(pool: asyncpg.Pool, redis: ArqRedis, metrics: Metrics) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        database = await database_reachable(pool)
        cache = await redis_reachable(redis)
        ready = database and cache
        body = {"status": "ready" if ready else "unready", "database": database, "redis": cache}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def render_metrics(request: Request) -> Response:
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            # Due now: a retry deferred into the future is not work to scale for.
            metrics.job_queue_depth.set(await redis.zcount(JOB_QUEUE, "-inf", int(time.time() * 1000)))
        return Response(metrics.render(), media_type=metrics.content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", render_metrics),
        ],
        # The same answers as the other services: an x-request-id on every response, and the
        # documented error body (a 404, a 500) rather than Starlette's plain text.
        middleware=[Middleware(RequestContextMiddleware, metrics=metrics), Middleware(InternalErrors)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


class HealthServer(uvicorn.Server):
    """uvicorn serving the health port inside the worker, leaving the signals to arq (which
    handles SIGTERM for the worker): it installs no handlers of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
