"""The hottest read, served before the middleware stack: a fresh cached Top N.

Pollers ask for the same few Top-N bodies thousands of times a second. When the query string
was seen before and its body is fresh in the cache, this answers at once with the prebuilt
response, after the per-IP read limit, in the same request context as every other entry point
(scoreboard/web/request_context.py: id, CORS, metrics, access log), inside the trace when
tracing is on. A miss, a new or invalid query and a refused read go through the full stack,
which also fills the cache.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from scoreboard.domain.errors import ScoreboardError
from scoreboard.domain.windows import ALL
from scoreboard.web.client_ip import client_ip
from scoreboard.web.request_context import HttpPolicy
from services.api.metrics import ApiMetrics
from services.api.queries import TopQuery

TOP_PATH = "/api/leaderboard/top"


class TopFastPath:
    def __init__(self, app: ASGIApp, policy: HttpPolicy, metrics: ApiMetrics) -> None:
        self.app = app
        self.policy = policy
        self._hits = metrics.top_cache.labels("hit")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != TOP_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        context = scope["state"]["context"]
        query = context.top_queries.known(scope["query_string"])
        cached = context.top_cache.fresh(_cache_key(context, query)) if query is not None else None
        headers = dict(scope["headers"])
        if cached is None or not self._admitted(scope, headers):
            await self.app(scope, receive, send)  # a refused read gets its 429 from the route
            return
        request = self.policy.begin(scope, headers)
        try:
            offered = request.headers.get(b"if-none-match")
            not_modified = offered is not None and etag_matches(offered.decode("latin-1"), cached.etag)
            status = 304 if not_modified else 200
            base = cached.not_modified_headers if not_modified else cached.ok_headers
            await request.send_start(send, status, base, memo_key=(cached.etag, status))
            await send({"type": "http.response.body", "body": b"" if not_modified else cached.body})
            self._hits.inc()
        finally:
            request.finish(TOP_PATH)

    @staticmethod
    def _admitted(scope: Scope, headers: dict[bytes, bytes]) -> bool:
        context = scope["state"]["context"]
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = headers.get(b"x-forwarded-for")
        address = client_ip(
            peer, forwarded.decode("latin-1") if forwarded else None, context.settings.trusted_proxies
        )
        return not context.read_limiter.admit(address)


def _cache_key(context: Any, query: TopQuery) -> tuple[str, str, int] | None:
    """The cache key of a known query now (its window moves with time), or None when that
    window is no longer readable: the route answers it (a 404)."""
    board_id, window_param, limit = query
    board = context.boards[board_id]
    if board.rule.kind == ALL:  # one window for ever: no clock to read
        return board_id, ALL, limit
    if window_param is None:
        return board_id, board.window_at(datetime.now(UTC)).id, limit
    try:
        return board_id, board.readable_window(window_param, datetime.now(UTC)).id, limit
    except ScoreboardError:
        return None


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored."""
    if not if_none_match:
        return False
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in offered or etag in offered
