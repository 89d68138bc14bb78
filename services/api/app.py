"""The API's app factory: settings, pools and clients are made here and closed in reverse order."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from scoreboard.db import flags as stored_flags
from scoreboard.db.group_commit import GroupCommitter
from scoreboard.db.pool import create_pool_lazily
from scoreboard.db.score_events import board_spec
from scoreboard.domain.actions import ActionType
from scoreboard.domain.boards import in_answer_order
from scoreboard.flags.runtime import FlagsRuntime
from scoreboard.moderation_view import ModerationView
from scoreboard.redis_store.connection import create_queue_redis, create_redis
from scoreboard.redis_store.job_queue import JobQueue
from scoreboard.redis_store.leaderboard import Leaderboard
from scoreboard.redis_store.rate_limit import RateLimiter
from scoreboard.redis_store.ticket_stagger import TicketStagger
from scoreboard.security.bearer import TokenVerifier
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.security.tickets import TicketBook
from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.errors import EXCEPTION_HANDLERS
from scoreboard.web.health import probe_routes
from scoreboard.web.request_context import HttpPolicy, cors_policy, middleware_stack
from services.api import openapi
from services.api.admin_session import AdminSessions
from services.api.context import ApiContext
from services.api.metrics import ApiMetrics
from services.api.read_limit import ReadLimiter
from services.api.routes import (
    admin,
    admin_page,
    boards,
    demo,
    health,
    leaderboard,
    privacy,
    realtime,
)
from services.api.settings import ApiSettings
from services.api.top_cache import TopCache
from services.api.top_fast_path import TopFastPath
from services.api.write_fast_path import WRITE_ROUTES, WriteFastPath


def _routes(settings: ApiSettings, metrics: Metrics) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        # Answered ahead of the stack (WriteFastPath); here for their 405s on other methods.
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in WRITE_ROUTES.items()),
        Route("/api/leaderboards", boards.list_boards, methods=["GET"]),
        Route("/api/leaderboard/top", leaderboard.top, methods=["GET"]),
        Route("/api/leaderboard/around/me", leaderboard.around_me, methods=["GET"]),
        Route("/api/scores/me", leaderboard.my_score, methods=["GET"]),
        Route("/api/me/privacy", privacy.set_privacy, methods=["PUT"]),
        Route("/api/realtime/token", realtime.realtime_token, methods=["GET"]),
        *admin.routes(),
        *admin_page.routes(settings),
        Route(
            "/api/openapi.json",
            openapi.endpoint(openapi.build_document(settings.action_types)),
            methods=["GET"],
        ),
        *probe_routes(metrics, health.readiness),
    ]
    if settings.dev_signing_route:
        routes += demo.routes()
    return routes


def _context(settings: ApiSettings, metrics: ApiMetrics) -> ApiContext:
    pool = create_pool_lazily(settings, application_name="scoreboard-api")
    redis = create_redis(settings)
    queue_redis = create_queue_redis(settings, store=redis)
    boards = {board.id: board for board in settings.board_list()}
    spec = board_spec(boards.values())
    return ApiContext(
        settings=settings,
        pool=pool,
        redis=redis,
        queue_redis=queue_redis,
        leaderboard=Leaderboard(redis, boards),
        jobs=JobQueue(queue_redis),
        limiter=RateLimiter(redis, on_fallback=metrics.rate_limit_fallback.inc),
        verifier=TokenVerifier(settings),
        tickets=TicketBook(settings.ticket_secret.get_secret_value()),
        stagger=TicketStagger(redis, on_fallback=metrics.rate_limit_fallback.inc),
        realtime_tokens=RealtimeTokens(
            settings.ticket_secret.get_secret_value(), settings.realtime_token_ttl_s
        ),
        action_types={
            name: ActionType(name, spec.points, spec.min_seconds, spec.ttl_seconds)
            for name, spec in settings.action_types.items()
        },
        signing_keys={key_id: secret.get_secret_value() for key_id, secret in settings.signing_keys.items()},
        metrics=metrics,
        top_cache=TopCache(settings.top_cache_ms),
        read_limiter=ReadLimiter(settings.rate_limit_read_ip_per_min),
        boards=boards,
        answer_order=[board.id for board in in_answer_order(boards.values())],
        board_spec=spec,
        committer=(
            GroupCommitter(pool, spec, flushers=settings.db_group_flushers, max_batch=settings.db_group_max)
            if settings.db_group_commit
            else None
        ),
        flags=FlagsRuntime(
            settings,
            service="api",
            source=lambda: stored_flags.read(pool),
            source_name="postgres",
            user_per_min=settings.rate_limit_user_per_min,
            ip_per_min=settings.rate_limit_ip_per_min,
        ),
        moderation=ModerationView(pool),
    )


def create_app(settings: ApiSettings | None = None) -> Starlette:
    settings = settings or ApiSettings()  # type: ignore[call-arg]  # read from the environment
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            context = _context(settings, metrics)
            await context.pool  # min_size=0: returns without connecting
            stack.push_async_callback(context.pool.close)
            stack.push_async_callback(context.redis.aclose)
            if context.queue_redis is not context.redis:
                stack.push_async_callback(context.queue_redis.aclose)
            context.flags.start()
            stack.push_async_callback(context.flags.stop)
            context.moderation.start()
            stack.push_async_callback(context.moderation.stop)
            # What exists now (modules, settings, the context) lives as long as the process:
            # the collector stops rescanning it on every full collection (docs/PERFORMANCE.md).
            gc.freeze()
            gc.set_threshold(20_000, 20, 20)
            yield {"context": context}

    cors = cors_policy(
        settings.cors_origins,
        methods=["GET", "POST", "PUT"],
        headers=["authorization", "content-type", "x-request-timestamp", "x-request-id"],
        expose=["x-request-id", "etag", "retry-after"],
    )
    policy = HttpPolicy(metrics, settings.access_log, cors)
    middleware = middleware_stack(
        policy,
        Middleware(WriteFastPath, policy=policy),
        Middleware(TopFastPath, policy=policy, metrics=metrics),
    )
    if settings.admin_oidc_enabled:  # the admin page's cookie session, on its paths only
        middleware.append(Middleware(AdminSessions, settings=settings))
    return Starlette(
        routes=_routes(settings, metrics),
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
