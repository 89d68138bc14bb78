"""`/healthz`, `/readyz` and `/metrics`, answered alike by every service.

Alive is always "ok". What makes a service ready differs (the API needs PostgreSQL, the gateway
Redis, the worker both), so each service passes its own check; the body is always `status` plus
the facts the check found, 503 when unready.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.responses import JSONResponse


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    facts: dict[str, object] = field(default_factory=dict)  # e.g. {"database": True, "redis": False}


ReadinessCheck = Callable[[Request], Awaitable[Readiness]]
BeforeScrape = Callable[[], Awaitable[None]]


def probe_routes(
    metrics: Metrics, readiness: ReadinessCheck, *, before_scrape: BeforeScrape | None = None
) -> list[Route]:
    """The three routes; `before_scrape` refreshes gauges that are read rather than kept."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        found = await readiness(request)
        body = {"status": "ready" if found.ready else "unready", **found.facts}
        return JSONResponse(body, status_code=200 if found.ready else 503)

    async def render_metrics(request: Request) -> Response:
        if before_scrape is not None:
            await before_scrape()
        return Response(metrics.render(), media_type=metrics.content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", render_metrics, methods=["GET"]),
    ]
