"""The gateway's app factory: one Redis client, one stream reader, in-memory fan-out."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreboard.redis_store.connection import create_redis
from scoreboard.redis_store.connection import is_reachable as redis_reachable
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.web.errors import EXCEPTION_HANDLERS
from scoreboard.web.health import Readiness, probe_routes
from scoreboard.web.request_context import HttpPolicy, cors_policy, middleware_stack
from services.gateway.broadcaster import READ_BLOCK_MS, Broadcaster
from services.gateway.flags_watch import watch_flags
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings
from services.gateway.state_interval import StateInterval
from services.gateway.stream import PATH, StreamEndpoint


class GatewayApp:
    """GET /api/realtime/stream goes straight to the stream handler with the server's own `send`;
    everything else (lifespan, probes, metrics, CORS preflights, other methods) to Starlette.

    A stream writes thousands of frames; each one passing through every middleware's `send`
    wrapper cost the gateway ~40 % of its CPU. The handler does what those middlewares did, once
    per connection (services/gateway/stream.py).
    """

    def __init__(self, app: Starlette, stream: ASGIApp, drain: Callable[[], None]) -> None:
        self.app = app
        self.stream = stream
        self.drain = drain  # the server calls it on shutdown (services/gateway/server.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            await self.stream(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> GatewayApp:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]  # read from the environment
    metrics = GatewayMetrics()
    redis = create_redis(settings)
    reader = create_redis(settings, max_connections=2, read_timeout_s=READ_BLOCK_MS / 1000 + 5)
    interval = StateInterval(
        settings.sse_state_interval_ms / 1000,
        settings.sse_state_interval_max_ms / 1000,
        metrics.sse_state_interval,
    )
    broadcaster = Broadcaster(
        redis,
        reader,
        metrics,
        interval,
        boards=settings.board_list(),
        heartbeat_s=settings.sse_heartbeat_s,
        send_timeout_s=settings.sse_send_timeout_s,
    )
    tokens = RealtimeTokens(settings.ticket_secret.get_secret_value(), settings.realtime_token_ttl_s)
    cors = cors_policy(settings.cors_origins, methods=["GET"], headers=["last-event-id", "cache-control"])
    policy = HttpPolicy(metrics, settings.access_log, cors)
    stream = StreamEndpoint(settings, broadcaster, tokens, metrics, policy)
    flags = watch_flags(settings, redis, broadcaster)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(redis.aclose)
            stack.push_async_callback(reader.aclose)
            broadcaster.start()
            stack.push_async_callback(broadcaster.stop)
            flags.start()
            stack.push_async_callback(flags.stop)
            # Everything built so far lives as long as the process: keep the collector off it, so
            # a full collection with 10,000 connections does not stall delivery for a second.
            gc.freeze()
            yield {}

    async def readiness(request: Request) -> Readiness:
        reachable = await redis_reachable(redis)
        ready = reachable and broadcaster.healthy and not broadcaster.draining
        return Readiness(ready, {"redis": reachable, "connections": len(broadcaster.subscribers)})

    async def stream_via_starlette(request: Request) -> Response:
        return Response(status_code=200, media_type="text/event-stream")  # HEAD: the headers only

    middleware = middleware_stack(policy)
    starlette = Starlette(
        routes=[
            # GET never gets here (GatewayApp); HEAD still does, and other methods get their 405.
            Route(PATH, stream_via_starlette, methods=["GET"]),
            *probe_routes(metrics, readiness),
        ],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    return GatewayApp(starlette, stream, broadcaster.drain)
