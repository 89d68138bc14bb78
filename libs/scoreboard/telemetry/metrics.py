"""Prometheus metrics. Each process builds one `Metrics` (its own registry) in its factory."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "scoreboard_http_requests_total",
            "HTTP requests",
            ["service", "route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "scoreboard_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
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
        self.jobs = Counter("scoreboard_jobs_total", "Worker jobs", ["job", "outcome"], registry=r)
        self.events_published = Counter(
            "scoreboard_events_published_total", "Events appended to the stream", ["type"], registry=r
        )
        self.job_queue_depth = Gauge(
            "scoreboard_job_queue_depth", "Jobs waiting in the arq queue (scale the worker on it)", registry=r
        )
        self.reconciler_lag = Gauge(
            "scoreboard_reconciler_lag_seconds", "Age of the reconciler's watermark", registry=r
        )
        self.reconciler_repairs = Counter(
            "scoreboard_reconciler_repairs_total", "Scores the reconciler had to apply", registry=r
        )
        self.rebuilds = Counter("scoreboard_rebuilds_total", "Full leaderboard rebuilds", registry=r)
        self.sse_connections = Gauge("scoreboard_sse_connections", "Open SSE connections", registry=r)
        self.sse_events_sent = Counter(
            "scoreboard_sse_events_sent_total", "Events written to SSE clients", ["type"], registry=r
        )
        self.sse_evictions = Counter(
            "scoreboard_sse_slow_client_evictions_total",
            "SSE clients disconnected for not reading",
            registry=r,
        )
        self.deliver_latency = Histogram(
            "scoreboard_publish_to_deliver_seconds",
            "Commit-to-SSE-write latency of the owners' own events",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sse_state_lag = Histogram(
            "scoreboard_sse_state_lag_seconds",
            "From a Top 10's append to the stream to the end of the pass that sent it to every client",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sse_state_interval = Gauge(
            "scoreboard_sse_state_interval_seconds",
            "Interval in force between two Top 10 sends to one client (widened while the gateway lags)",
            registry=r,
        )
        self.service = service

    def render(self) -> bytes:
        return generate_latest(self.registry)
