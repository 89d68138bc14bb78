"""Request ids, request metrics and one access-log line per request (pure ASGI: no buffering)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoreboard.telemetry.logging import request_id_var
from scoreboard.telemetry.metrics import Metrics

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNTRACKED = {"/healthz", "/readyz", "/metrics"}

access_log = logging.getLogger("scoreboard.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        method = scope["method"]
        service = self.metrics.service
        self.metrics.http_requests.labels(service, template, method, str(status)).inc()
        self.metrics.http_latency.labels(service, template, method).observe(elapsed)
        if template not in _UNTRACKED:
            access_log.info(
                "request",
                extra={"method": method, "route": template, "status": status, "ms": round(elapsed * 1000, 2)},
            )
