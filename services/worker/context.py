"""What every job reads from arq's ctx, built in on_startup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis

from scoreboard.domain.boards import Board
from scoreboard.flags.runtime import FlagsRuntime
from scoreboard.redis_store.leaderboard import Leaderboard
from services.worker.metrics import WorkerMetrics
from services.worker.settings import WorkerProcessSettings
from services.worker.top_publisher import TopPublisher


@dataclass
class WorkerContext:
    settings: WorkerProcessSettings
    pool: asyncpg.Pool
    redis: Redis  # boards, stream, limits: may be a Redis Cluster (ARCHITECTURE.md: Redis roles)
    leaderboard: Leaderboard
    metrics: WorkerMetrics
    publisher: TopPublisher
    boards: dict[str, Board]  # in configuration order
    next_prune: dict[str, float] = field(default_factory=dict)  # board -> monotonic time of the next prune
    flags: FlagsRuntime | None = None  # started by run(): tests drive jobs without it


def context_of(ctx: dict[str, Any]) -> WorkerContext:
    context: WorkerContext = ctx["scoreboard"]
    return context
