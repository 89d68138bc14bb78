"""Reads: the Top N (cached, ETag), my score, the entries around me. Redis first, then the DB."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.web.responses import JSONResponse
from services.api import standings
from services.api.context import context_of
from services.api.guards import authenticate, limit_ip, limit_reads
from services.api.queries import board_query, int_query
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
    board, limit = context.top_queries.parse(request, context.boards)

    async def load() -> bytes:
        entries = await standings.ranked_slice(context, board, limit)
        return orjson.dumps([entry.to_public() for entry in entries])

    cached = await context.top_cache.get((board, limit), load, context.count_top_cache)
    if etag_matches(request.headers.get("if-none-match"), cached.etag):
        return PrebuiltResponse(304, b"", cached.not_modified_headers)
    return PrebuiltResponse(200, cached.body, cached.ok_headers)


async def my_score(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    board = board_query(request, context.boards)
    found = await standings.score_and_rank(context, board, principal.user_id)
    score, rank = found if found else (0, None)
    return JSONResponse({"userId": str(principal.user_id), "score": score, "rank": rank})


async def around_me(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    radius = int_query(request, "radius", default=5, low=0, high=25)
    board = board_query(request, context.boards)
    found = await standings.score_and_rank(context, board, principal.user_id)
    body: dict[str, Any] = {"userId": str(principal.user_id), "score": 0, "rank": None, "entries": []}
    if found:
        score, rank = found
        offset = max(rank - 1 - radius, 0)
        entries = await standings.ranked_slice(context, board, rank - offset + radius, offset)
        shown = [
            entry.to_public() | ({"userId": str(entry.user_id)} if entry.user_id == principal.user_id else {})
            for entry in entries
        ]
        body |= {"score": score, "rank": rank, "entries": shown}
    return JSONResponse(body)
