"""The gateway's metrics: connections, deliveries and pacing, on the shared request series."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from scoreboard.telemetry.metrics import LATENCY_BUCKETS, Metrics


class GatewayMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__("gateway")
        r = self.registry
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
