"""The worker's small HTTP side: /healthz, /readyz and /metrics for probes and Prometheus."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import asyncpg
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request

from scoreboard.db.pool import is_reachable as database_reachable
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.connection import is_reachable as redis_reachable
from scoreboard.redis_store.keys import JOB_QUEUE
from scoreboard.web.errors import EXCEPTION_HANDLERS
from scoreboard.web.health import Readiness, probe_routes
from scoreboard.web.request_context import HttpPolicy, middleware_stack
from services.worker.metrics import WorkerMetrics


def create_health_app(pool: asyncpg.Pool, redis: Redis, metrics: WorkerMetrics, *, queue: Redis) -> Starlette:
    """`queue`: the job queue's Redis, `redis` itself when they share a server (ARCHITECTURE.md:
    Redis roles)."""

    async def readiness(request: Request) -> Readiness:
        database = await database_reachable(pool)
        cache = await redis_reachable(redis) and (queue is redis or await redis_reachable(queue))
        return Readiness(database and cache, {"database": database, "redis": cache})

    async def count_queued_jobs() -> None:
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            # Due now: a retry deferred into the future is not work to scale for.
            metrics.job_queue_depth.set(await queue.zcount(JOB_QUEUE, "-inf", int(time.time() * 1000)))

    return Starlette(
        routes=probe_routes(metrics, readiness, before_scrape=count_queued_jobs),
        # The same answers as the other services: an x-request-id on every response, and the
        # documented error body (a 404, a 500) rather than Starlette's plain text.
        middleware=middleware_stack(HttpPolicy(metrics, "errors", cors=None)),
        exception_handlers=EXCEPTION_HANDLERS,
    )


class HealthServer(uvicorn.Server):
    """uvicorn serving the health port inside the worker, leaving the signals to arq (which
    handles SIGTERM for the worker): it installs no handlers of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
