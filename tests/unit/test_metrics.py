"""Each service exports the series it can move, under the names dashboards use, without `_created`."""

from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from scoreboard.telemetry.metrics import Metrics
from services.api.metrics import ApiMetrics
from services.gateway.metrics import GatewayMetrics
from services.worker.metrics import WorkerMetrics

SHARED = {"scoreboard_http_requests", "scoreboard_http_request_duration_seconds"}
API = {
    "scoreboard_rate_limit_rejections",
    "scoreboard_rate_limit_local_fallback",
    "scoreboard_idempotency",
    "scoreboard_increments",
    "scoreboard_db_write_errors",
    "scoreboard_enqueue_failures",
    "scoreboard_top_cache",
    "scoreboard_db_read_fallbacks",
    "scoreboard_jobs",
}
WORKER = {
    "scoreboard_jobs",
    "scoreboard_events_published",
    "scoreboard_job_queue_depth",
    "scoreboard_reconciler_lag_seconds",
    "scoreboard_reconciler_repairs",
    "scoreboard_reconciler_reads",
    "scoreboard_rebuilds",
    "scoreboard_quarantines",
    "scoreboard_anomaly_lag_seconds",
}
GATEWAY = {
    "scoreboard_sse_connections",
    "scoreboard_sse_events_sent",
    "scoreboard_sse_slow_client_evictions",
    "scoreboard_publish_to_deliver_seconds",
    "scoreboard_sse_state_lag_seconds",
    "scoreboard_sse_state_interval_seconds",
}


def _exported(metrics: Metrics) -> tuple[set[str], set[str]]:
    """(metric family names, sample names) of a service's /metrics body."""
    families = list(text_string_to_metric_families(metrics.render().decode()))
    return {family.name for family in families}, {s.name for family in families for s in family.samples}


def _touch_every_series(metrics: Metrics) -> None:
    """Labelled series appear once used: use them all, as a busy process would."""
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = collector._labelnames
        child = collector.labels(*["x"] * len(labels)) if labels else collector
        for action in ("inc", "observe", "set"):
            if hasattr(child, action):
                getattr(child, action)(1)
                break


def test_each_service_exports_only_its_own_series() -> None:
    for metrics, own in ((ApiMetrics(), API), (WorkerMetrics(), WORKER), (GatewayMetrics(), GATEWAY)):
        families, _ = _exported(metrics)
        assert families == SHARED | own, metrics.service


def test_no_counter_or_histogram_has_a_created_twin() -> None:
    for metrics in (ApiMetrics(), WorkerMetrics(), GatewayMetrics()):
        _touch_every_series(metrics)
        _, samples = _exported(metrics)
        assert samples
        assert not [name for name in samples if name.endswith("_created")], metrics.service


def test_request_series_are_labelled_with_the_service() -> None:
    assert (ApiMetrics().service, WorkerMetrics().service, GatewayMetrics().service) == (
        "api",
        "worker",
        "gateway",
    )
