"""The worker process's settings, built from the shared pieces.

Not `WorkerSettings`: that is arq's name for the class its own CLI reads, which this is not.
"""

from __future__ import annotations

from pydantic import Field

from scoreboard.config import (
    AnomalySettings,
    BoardSettings,
    DatabaseSettings,
    FlagSettings,
    LeaderboardSettings,
    QueueRedisSettings,
)


class WorkerProcessSettings(
    DatabaseSettings, QueueRedisSettings, LeaderboardSettings, BoardSettings, FlagSettings, AnomalySettings
):
    worker_host: str = "127.0.0.1"
    worker_port: int = Field(default=8002, ge=0, le=65535)  # /healthz, /readyz, /metrics
    worker_max_jobs: int = Field(default=100, ge=1)
    worker_poll_delay_s: float = Field(default=0.01, gt=0, le=5)  # arq polls its queue; this bounds the wait
    worker_job_completion_wait_s: int = Field(default=20, ge=0)
    reconcile_margin_s: float = Field(default=10.0, ge=0)
    reconcile_batch: int = Field(default=5000, ge=100)
    rebuild_batch: int = Field(default=10_000, ge=100)
    prune_batch: int = Field(default=1000, ge=10)  # rows of windows past retention deleted per statement
