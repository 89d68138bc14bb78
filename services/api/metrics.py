"""The API's metrics: writes, reads, limits and caches, on the shared request series."""

from __future__ import annotations

from prometheus_client import Counter

from scoreboard.telemetry.metrics import Metrics, job_counter


class ApiMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__("api")
        r = self.registry
        self.rate_limited = Counter(
            "scoreboard_rate_limit_rejections_total",
            "Requests refused by a rate limit",
            ["scope"],
            registry=r,
        )
        self.rate_limit_fallback = Counter(
            "scoreboard_rate_limit_local_fallback_total",
            "Rate-limit decisions taken in process because Redis was unreachable",
            registry=r,
        )
        self.idempotency = Counter(
            "scoreboard_idempotency_total", "Idempotent replays and conflicts", ["outcome"], registry=r
        )
        self.increments = Counter("scoreboard_increments_total", "Committed increments", registry=r)
        self.db_write_errors = Counter(
            "scoreboard_db_write_errors_total", "Failed increment transactions", ["kind"], registry=r
        )
        self.enqueue_failures = Counter(
            "scoreboard_enqueue_failures_total", "apply_score jobs that could not be enqueued", registry=r
        )
        self.top_cache = Counter(
            "scoreboard_top_cache_total", "Top endpoint cache lookups", ["result"], registry=r
        )
        self.read_fallbacks = Counter(
            "scoreboard_db_read_fallbacks_total", "Reads served from PostgreSQL instead of Redis", registry=r
        )
        self.jobs = job_counter(r)
