"""Request ids, request metrics and access-log lines (pure ASGI: no body buffering)."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoreboard.telemetry.logging import request_id_var
from scoreboard.telemetry.metrics import Metrics

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNLOGGED = {"/healthz", "/readyz", "/metrics"}
SLOW_REQUEST_S = 1.0

AccessLog = Literal["all", "errors", "off"]

access_log = logging.getLogger("scoreboard.access")


def sane_request_id(offered: bytes | None) -> str | None:
    """A client's x-request-id when it is safe to echo (log and header injection), else None."""
    if offered is None:
        return None
    text = offered.decode("latin-1")
    return text if _SANE_REQUEST_ID.match(text) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Every response gets an `x-request-id`; every request is counted and timed by route template.

    The access log writes every request ("all"), or only failures and slow ones ("errors", the
    default: rejections also have their own audit line, and a line per cached read is noise).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, access: AccessLog = "errors") -> None:
        self.app = app
        self.metrics = metrics
        self.access = access
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labelled children, cached
        # Unique without a syscall per request (uuid4 reads the OS's randomness each time):
        # a random per-process prefix and a counter.
        self._id_prefix = secrets.token_hex(6)
        self._ids = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _SANE_REQUEST_ID.match(offered) else self._new_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):010x}"

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        template = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        key = (template, method, status)
        series = self._series.get(key)
        if series is None:
            service = self.metrics.service
            series = (
                self.metrics.http_requests.labels(service, template, method, str(status)),
                self.metrics.http_latency.labels(service, template, method),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(elapsed)
        if template in _UNLOGGED or self.access == "off":
            return
        if self.access == "all" or status >= 400 or elapsed >= SLOW_REQUEST_S:
            access_log.info(
                "request",
                extra={"method": method, "route": template, "status": status, "ms": round(elapsed * 1000, 2)},
            )
