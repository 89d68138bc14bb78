"""Measured: reading the runtime flags adds no database or Redis round trip to an increment.

Every PostgreSQL query and Redis command is a span (the OpenTelemetry instrumentations the
services use). Over a burst of increments, the flags are read only by the refresher, on its
clock, outside every request's trace; each increment's own round trips are listed and stay the
same whatever the flags say.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_rate_limits import increment
from tests.integration.test_runtime_flags import put_flags

INCREMENTS = 30
REFRESH_MS = 1000


def _store_calls(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes and s.attributes.get("db.system") in ("postgresql", "redis")]


def _reads_flags(span: ReadableSpan) -> bool:
    statement = str((span.attributes or {}).get("db.statement", ""))
    return "runtime_flags" in statement or "sb:flags" in statement


def _round_trips(spans: list[ReadableSpan], trace_id: int) -> tuple[str, ...]:
    calls = sorted((s for s in spans if s.context and s.context.trace_id == trace_id), key=_started)
    return tuple(f"{(s.attributes or {}).get('db.system')}:{s.name}" for s in calls)


def _started(span: ReadableSpan) -> int:
    return span.start_time or 0


async def _burst(api: Any, exporter: InMemorySpanExporter) -> tuple[set[tuple[str, ...]], list[Any], float]:
    alice = Player("Alice")
    assert (await increment(api, alice)).status_code == 200  # warm: Redis scripts loaded, pool filled
    exporter.clear()
    started = time.monotonic()
    for _ in range(INCREMENTS):
        response = await increment(api, alice)
        assert response.status_code == 200, response.text
    elapsed = time.monotonic() - started
    spans = exporter.get_finished_spans()
    requests = [s for s in spans if s.name == "POST /api/scores/increment" and s.parent is None]
    assert len(requests) == INCREMENTS
    traces = {s.context.trace_id for s in requests if s.context}
    calls = _store_calls(spans)
    in_requests = [s for s in calls if s.context and s.context.trace_id in traces]
    assert not [s.name for s in in_requests if _reads_flags(s)], "an increment read the flags"
    shapes = {_round_trips(in_requests, trace_id) for trace_id in traces}
    background_reads = [s for s in calls if _reads_flags(s) and s not in in_requests]
    return shapes, background_reads, elapsed


async def test_the_increment_path_reads_no_flag_from_any_store(
    exporter: InMemorySpanExporter, api_factory: ApiClientFactory
) -> None:
    api = await api_factory(flags_refresh_ms=REFRESH_MS, db_group_commit=False)
    defaults, reads_before, elapsed_before = await _burst(api, exporter)
    await put_flags(api, rate_limit_user_per_min=10_000, rate_limit_ip_per_min=10_000)
    overridden, reads_after, elapsed_after = await _burst(api, exporter)

    # Every increment makes the same round trips, and flags in force add none.
    assert len(defaults) == 1, defaults
    assert defaults == overridden
    # The refresher reads on its clock: at most one read per interval, however many increments.
    for reads, elapsed in ((reads_before, elapsed_before), (reads_after, elapsed_after)):
        assert len(reads) <= math.ceil(elapsed * 1000 / REFRESH_MS) + 1, (len(reads), elapsed)
    # The detector does see the refresher's reads (so the checks above can fail).
    exporter.clear()
    await asyncio.sleep(REFRESH_MS / 1000 * 1.5)
    assert any(_reads_flags(span) for span in _store_calls(exporter.get_finished_spans()))
    print(f"round trips of one increment: {sorted(defaults)[0]}")
    print(f"flag reads during {INCREMENTS} increments: {len(reads_before)} in {elapsed_before:.2f} s")
