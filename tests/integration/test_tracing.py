"""One increment, one trace: API -> Postgres/Redis -> arq job -> worker -> stream -> gateway."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from scoreboard.redis_store import events
from scoreboard.redis_store.keys import JOB_QUEUE
from services.gateway.broadcaster import Broadcaster
from services.gateway.metrics import GatewayMetrics
from services.gateway.state_interval import StateInterval
from services.worker.context import WorkerContext
from services.worker.jobs import apply_score
from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.servers import queue_client

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_an_increment_is_one_trace_across_the_three_services(
    exporter: InMemorySpanExporter,
    api_factory: ApiClientFactory,
    worker: WorkerContext,
    queue_redis_url: str,
) -> None:
    exporter.clear()
    api = await api_factory()
    response = await Player("Alice").play(api)
    assert response.status_code == 200, response.text

    await worker.leaderboard.mark_ready("global", "all")  # as the worker's start-up reconcile leaves it
    queue = queue_client(queue_redis_url)
    (job,) = await queue.queued_jobs(queue_name=JOB_QUEUE)
    await queue.aclose()
    payload: dict[str, Any] = job.args[0]
    assert payload["traceparent"]
    await apply_score({"scoreboard": worker}, payload)

    metrics = GatewayMetrics()
    interval = StateInterval(0.25, 4.0, metrics.sse_state_interval)
    broadcaster = Broadcaster(worker.redis, worker.redis, metrics, interval)
    stream = await events.read_after(worker.redis, "0-0", block_ms=100)
    assert [event.type for event in stream] == ["user_score_updated"]
    assert stream[0].traceparent
    for event in stream:
        broadcaster.dispatch(event)

    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (request,) = [s for s in spans if s.name == "POST /api/scores/increment" and s.parent is None]
    trace_id = request.context.trace_id
    (job_span,) = by_name["apply_score"]
    (deliver,) = by_name["deliver"]
    assert job_span.context.trace_id == trace_id
    assert deliver.context.trace_id == trace_id
    assert deliver.parent is not None
    assert deliver.parent.span_id in {s.context.span_id for s in spans if s.context.trace_id == trace_id}
    same_trace = [s for s in spans if s.context.trace_id == trace_id]
    assert any(s.attributes and s.attributes.get("db.system") == "postgresql" for s in same_trace)
    assert any(s.attributes and s.attributes.get("db.system") == "redis" for s in same_trace)
    assert not any(s.name.startswith("GET /healthz") for s in spans)


async def test_a_cached_poll_is_served_by_the_fast_path_inside_a_server_span(
    exporter: InMemorySpanExporter, api_factory: ApiClientFactory
) -> None:
    api = await api_factory(top_cache_ms=1000)
    await api.get("/api/leaderboard/top")  # fills the cache through the stack
    exporter.clear()

    cached = await api.get("/api/leaderboard/top", headers={"traceparent": TRACEPARENT})

    assert cached.status_code == 200
    metrics = (await api.get("/metrics")).text
    assert 'scoreboard_top_cache_total{result="hit"} 1.0' in metrics
    (server,) = [span for span in exporter.get_finished_spans() if span.kind.name == "SERVER"]
    assert server.context is not None
    assert server.parent is not None
    assert f"{server.context.trace_id:032x}" == TRACEPARENT.split("-")[1]  # the caller's trace, continued
