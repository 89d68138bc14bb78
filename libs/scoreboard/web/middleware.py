"""Request ids, request metrics and access-log lines: the pieces of every request context
(scoreboard/web/request_context.py)."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from typing import Any, Literal

from starlette.types import Scope

from scoreboard.telemetry.metrics import Metrics

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNLOGGED = {"/healthz", "/readyz", "/metrics"}
SLOW_REQUEST_S = 1.0

AccessLog = Literal["all", "errors", "off"]
# Any other method (a client may send any token) is counted as OTHER: the series stay bounded.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Where the request context leaves the request's id in the ASGI scope, so that an error
# answered outside it (Starlette's last-resort handler) carries the same id.
REQUEST_ID_SCOPE_KEY = "scoreboard.request_id"

access_log = logging.getLogger("scoreboard.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIds:
    """Unique without a syscall per request (uuid4 reads the OS's randomness each time): a random
    per-process prefix and a counter. A sane id offered by the client is echoed instead."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._ids = itertools.count()

    def for_request(self, offered: bytes | str | None) -> str:
        if isinstance(offered, bytes):
            offered = offered.decode("latin-1")
        if offered and _SANE_REQUEST_ID.match(offered):
            return offered
        return f"{self._prefix}{next(self._ids):010x}"


def request_id_of(scope: Scope) -> str:
    """The id the request context gave this request; else the client's sane one, or a new one
    (a request that failed before reaching that middleware)."""
    known = scope.get(REQUEST_ID_SCOPE_KEY)
    if isinstance(known, str):
        return known
    offered = _header(scope, b"x-request-id")
    return offered if offered and _SANE_REQUEST_ID.match(offered) else secrets.token_hex(12)


class RequestLog:
    """Counts and times a request by route template (labelled series cached), and writes its
    access-log line: every request ("all"), or only failures and slow ones ("errors")."""

    def __init__(self, metrics: Metrics, access: AccessLog) -> None:
        self.metrics = metrics
        self.access = access
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, route: str, method: str, status: int, elapsed: float) -> None:
        if method not in KNOWN_METHODS:
            method = "OTHER"
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            service = self.metrics.service
            series = (
                self.metrics.http_requests.labels(service, route, method, str(status)),
                self.metrics.http_latency.labels(service, route, method),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(elapsed)
        if route in _UNLOGGED or self.access == "off":
            return
        if self.access == "all" or status >= 400 or elapsed >= SLOW_REQUEST_S:
            access_log.info(
                "request",
                extra={"method": method, "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
            )
