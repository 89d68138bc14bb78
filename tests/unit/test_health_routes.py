"""The probes every service shares: alive always, ready by the service's own check, metrics."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.health import Readiness, probe_routes


def _client(ready: bool, scrapes: list[int]) -> httpx.AsyncClient:
    async def readiness(request: Request) -> Readiness:
        return Readiness(ready, {"redis": ready, "connections": 3})

    async def before_scrape() -> None:
        scrapes.append(1)

    app = Starlette(routes=probe_routes(Metrics("test"), readiness, before_scrape=before_scrape))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe.test")


async def test_ready_and_unready_answer_with_the_checks_facts() -> None:
    async with _client(True, []) as ready, _client(False, []) as unready:
        up, down = await ready.get("/readyz"), await unready.get("/readyz")
        alive = await unready.get("/healthz")
    assert (up.status_code, up.json()) == (200, {"status": "ready", "redis": True, "connections": 3})
    assert (down.status_code, down.json()) == (503, {"status": "unready", "redis": False, "connections": 3})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


async def test_metrics_are_refreshed_before_each_scrape() -> None:
    scrapes: list[int] = []
    async with _client(True, scrapes) as client:
        first = await client.get("/metrics")
        await client.get("/metrics")
    assert first.status_code == 200
    assert b"scoreboard_http_requests_total" in first.content
    assert scrapes == [1, 1]


async def test_probes_answer_get_only() -> None:
    async with _client(True, []) as client:
        assert (await client.post("/healthz")).status_code == 405
        assert (await client.head("/healthz")).status_code == 200
