"""Reads: the Top N (cached, ETag), my score, the entries around me. Redis first, then the DB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.models import RankedEntry
from scoreboard.domain.ranking import with_own_entry
from scoreboard.web.responses import JSONResponse
from services.api import standings
from services.api.context import context_of
from services.api.guards import authenticate, limit_ip, limit_reads
from services.api.queries import board_query, int_query, window_query
from services.api.top_fast_path import etag_matches


class PrebuiltResponse(Response):
    """A response whose headers were built once, when its body was cached (the hot read path)."""

    def __init__(self, status_code: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = raw_headers
        self.background = None


async def top(request: Request) -> Response:
    context = context_of(request)
    limit_reads(request, context)
    board_id, window_param, limit = context.top_queries.parse(request, context.boards)
    board = context.boards[board_id]
    window_id = board.readable_window(window_param, datetime.now(UTC)).id

    async def load() -> bytes:
        entries = await standings.ranked_slice(context, board, window_id, limit)
        return orjson.dumps([entry.to_public() for entry in entries])

    cached = await context.top_cache.get((board_id, window_id, limit), load, context.count_top_cache)
    if etag_matches(request.headers.get("if-none-match"), cached.etag):
        return PrebuiltResponse(304, b"", cached.not_modified_headers)
    return PrebuiltResponse(200, cached.body, cached.ok_headers)


async def my_score(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    context.moderation.refuse_banned(principal.user_id)
    board = board_query(request, context.boards)
    window = window_query(request, board)
    found = await standings.own_standing(context, board, window.id, principal.user_id)
    body = {
        "userId": str(principal.user_id),
        "board": board.id,
        "window": window.id,
        "score": found.score if found else 0,
        "rank": found.rank if found else None,
    }
    return JSONResponse(body)


async def around_me(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    context.moderation.refuse_banned(principal.user_id)
    radius = int_query(request, "radius", default=5, low=0, high=25)
    board = board_query(request, context.boards)
    window = window_query(request, board)
    found = await standings.own_standing(context, board, window.id, principal.user_id)
    body: dict[str, Any] = {
        "userId": str(principal.user_id),
        "board": board.id,
        "window": window.id,
        "score": 0,
        "rank": None,
        "entries": [],
    }
    if found:
        offset = max(found.rank - 1 - radius, 0)
        limit = found.rank - offset + radius
        if found.hidden:  # out of the public ranking: shown where they would stand, to them alone
            others = await standings.ranked_slice(context, board, window.id, limit - 1, offset)
            mine = RankedEntry(found.rank, principal.user_id, principal.display_name, True, found.score)
            entries = with_own_entry(others, mine, offset, shared=board.shared_ranks)
        else:
            entries = await standings.ranked_slice(context, board, window.id, limit, offset)
        shown = [
            entry.to_public() | ({"userId": str(entry.user_id)} if entry.user_id == principal.user_id else {})
            for entry in entries
        ]
        body |= {"score": found.score, "rank": found.rank, "entries": shown}
    return JSONResponse(body)
