"""Prometheus metrics: what every service exports, and the registry it exports from.

Each process builds one set in its factory: `services/<name>/metrics.py` adds, on this base, the
series that service can move, so a dashboard shows no series that stays 0 forever. Names never
change: dashboards and docs/operations.md use them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The request series of one service, in its own registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, service: str) -> None:
        # No `_created` twin per counter and histogram: Prometheus computes rates without it, and
        # it doubles the series. prometheus_client keeps this switch process-wide.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.service = service
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "scoreboard_http_requests_total",
            "HTTP requests",
            ["service", "route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "scoreboard_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def job_counter(registry: CollectorRegistry) -> Counter:
    """Jobs by outcome: the API counts its enqueues, the worker what became of them."""
    return Counter("scoreboard_jobs_total", "Worker jobs", ["job", "outcome"], registry=registry)
