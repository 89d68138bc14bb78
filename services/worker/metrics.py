"""The worker's metrics: jobs, events, the queue and convergence, on the shared request series
(of its health port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from scoreboard.telemetry.metrics import Metrics, job_counter


class WorkerMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__("worker")
        r = self.registry
        self.jobs = job_counter(r)
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
        self.reconciler_reads = Counter(
            "scoreboard_reconciler_reads_total", "Changed scores the reconciler read to compare", registry=r
        )
        self.rebuilds = Counter("scoreboard_rebuilds_total", "Full leaderboard rebuilds", registry=r)
        self.quarantines = Counter(
            "scoreboard_quarantines_total", "Users quarantined by the anomaly detector", ["rule"], registry=r
        )
        self.anomaly_lag = Gauge(
            "scoreboard_anomaly_lag_seconds",
            "Age of the newest increment the anomaly watch has read",
            registry=r,
        )
