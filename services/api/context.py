"""Everything a request handler needs, built once per process in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis
from starlette.requests import Request

from scoreboard.db.group_commit import GroupCommitter
from scoreboard.domain.actions import ActionType
from scoreboard.domain.boards import Board
from scoreboard.flags.runtime import FlagsRuntime
from scoreboard.moderation_view import ModerationView
from scoreboard.redis_store.job_queue import JobQueue
from scoreboard.redis_store.leaderboard import Leaderboard
from scoreboard.redis_store.rate_limit import RateLimiter
from scoreboard.redis_store.ticket_stagger import TicketStagger
from scoreboard.security.bearer import TokenVerifier
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.security.tickets import TicketBook
from services.api.metrics import ApiMetrics
from services.api.queries import TopQueries
from services.api.read_limit import ReadLimiter
from services.api.settings import ApiSettings
from services.api.top_cache import TopCache


@dataclass
class ApiContext:
    settings: ApiSettings
    pool: asyncpg.Pool
    redis: Redis  # boards, stream, limits: may be a Redis Cluster (ARCHITECTURE.md: Redis roles)
    queue_redis: Redis  # the job queue's single primary (the same client when it is one server)
    leaderboard: Leaderboard
    jobs: JobQueue
    limiter: RateLimiter
    verifier: TokenVerifier
    tickets: TicketBook
    stagger: TicketStagger
    realtime_tokens: RealtimeTokens
    action_types: dict[str, ActionType]
    signing_keys: dict[str, str]
    metrics: ApiMetrics
    top_cache: TopCache
    read_limiter: ReadLimiter
    boards: dict[str, Board]  # in configuration order
    answer_order: list[str]  # domain.boards.in_answer_order: the main board of an increment first
    board_spec: str  # the boards as the increment's SQL function takes them
    committer: GroupCommitter | None  # None: one transaction per increment
    flags: FlagsRuntime
    moderation: ModerationView  # who is banned: their tickets, increments and own reads are refused
    top_queries: TopQueries = field(default_factory=TopQueries)

    def count_top_cache(self, hit: bool) -> None:
        self.metrics.top_cache.labels("hit" if hit else "miss").inc()


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.state.context
    return context
