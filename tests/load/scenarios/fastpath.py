"""fastpath: CPU per cached Top-N read inside the API process, without the network or uvicorn.

The app is called in process (its ASGI interface, the lifespan run) on real servers, for a fresh
cached body: plain, cross-origin (CORS on), and with tracing on (a tracer provider with no
exporter: spans are made, nothing leaves). CPU time (`time.process_time`) per request is what
the machine's other load disturbs least; the baseline is the plain read of the same run.
"""

from __future__ import annotations

import time
from typing import Any

from asgi_lifespan import LifespanManager

from services.api.app import create_app
from tests.factories import api_settings
from tests.load.report import Report
from tests.load.scenarios.common import Options
from tests.load.stack import Stack

ORIGIN = b"https://game.example"


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/api/leaderboard/top",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }


async def _cpu_us_per_request(app: Any, headers: list[tuple[bytes, bytes]], count: int) -> float:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(_scope(headers), receive, send)  # fills the cache
    started = time.process_time()
    for _ in range(count):
        await app(_scope(headers), receive, send)
    used = time.process_time() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"the reads were not all 200: {sorted(set(statuses))}")
    return used / count * 1e6


async def _measure(stack: Stack, count: int, *, traced: bool) -> dict[str, float]:
    if traced:
        from opentelemetry.sdk.trace import TracerProvider

        from scoreboard.telemetry import tracing

        if not tracing.enabled():
            tracing.install(TracerProvider())  # spans made and ended, exported nowhere
    settings = api_settings(
        stack.database_url,
        stack.redis_url,
        top_cache_ms=1000,
        cors_origins=[ORIGIN.decode()],
        rate_limit_read_ip_per_min=1_000_000_000,
    )
    async with LifespanManager(create_app(settings)) as manager:
        plain = await _cpu_us_per_request(manager.app, [], count)
        cross = await _cpu_us_per_request(manager.app, [(b"origin", ORIGIN)], count)
    return {"plain": plain, "cross-origin": cross}


async def run(options: Options) -> Report:
    count = options.pick(None, 2_000, 30_000)
    report = Report("fastpath", "smoke" if options.smoke else "full", {"requests_per_measure": count})
    stack = await Stack.start(services=())
    try:
        untraced = await _measure(stack, count, traced=False)
        traced = await _measure(stack, count, traced=True)  # last: a tracer provider stays installed
    finally:
        await stack.astop()
    base = untraced["plain"]
    report.add("CPU per cached read, plain", base, "us", better="lower")
    report.add(
        "CPU per cached read, cross-origin", untraced["cross-origin"], "us", baseline=base, better="lower"
    )
    report.add("CPU per cached read, traced", traced["plain"], "us", baseline=base, better="lower")
    report.add(
        "CPU per cached read, traced, cross-origin",
        traced["cross-origin"],
        "us",
        baseline=base,
        better="lower",
    )
    return report
