"""Reads: the Top N (cached, ETag), my score, the entries around me. Redis first, then the DB."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import scores
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.domain.models import RankedEntry
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.leaderboard import REDIS_UNREADABLE
from scoreboard.web.responses import JSONResponse
from services.api.context import ApiContext, context_of
from services.api.guards import authenticate, limit_ip
from services.api.schemas import board_query, int_query
from services.api.top_fast_path import etag_matches


def _db_unavailable() -> Unavailable:
    return Unavailable(
        "neither Redis nor the database can serve this now", reason=Reason.DATABASE_UNAVAILABLE
    )


async def _ranked_slice(context: ApiContext, board: str, limit: int, offset: int = 0) -> list[RankedEntry]:
    try:
        entries = await context.leaderboard.top(board, limit, offset)
        if entries is not None:
            return entries
    except REDIS_DOWN:
        pass
    context.metrics.read_fallbacks.inc()
    try:
        return await scores.top(context.pool, board, limit, offset)
    except DB_DOWN as error:
        raise _db_unavailable() from error


async def _score_and_rank(context: ApiContext, board: str, user_id: UUID) -> tuple[int, int] | None:
    try:
        return await context.leaderboard.score_and_rank(board, user_id)
    except REDIS_UNREADABLE:
        pass
    context.metrics.read_fallbacks.inc()
    try:
        return await scores.score_and_rank(context.pool, board, user_id)
    except DB_DOWN as error:
        raise _db_unavailable() from error


class PrebuiltResponse(Response):
    """A response whose headers were built once, when its body was cached (the hot read path)."""

    def __init__(self, status_code: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = raw_headers
        self.background = None


async def top(request: Request) -> Response:
    context = context_of(request)
    board, limit = context.top_queries.parse(request)

    async def load() -> bytes:
        entries = await _ranked_slice(context, board, limit)
        return orjson.dumps([entry.to_public() for entry in entries])

    cached = await context.top_cache.get((board, limit), load, context.count_top_cache)
    if etag_matches(request.headers.get("if-none-match"), cached.etag):
        return PrebuiltResponse(304, b"", cached.not_modified_headers)
    return PrebuiltResponse(200, cached.body, cached.ok_headers)


async def my_score(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    board = board_query(request)
    found = await _score_and_rank(context, board, principal.user_id)
    score, rank = found if found else (0, None)
    return JSONResponse({"userId": str(principal.user_id), "score": score, "rank": rank})


async def around_me(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    radius = int_query(request, "radius", default=5, low=0, high=25)
    board = board_query(request)
    found = await _score_and_rank(context, board, principal.user_id)
    body: dict[str, Any] = {"userId": str(principal.user_id), "score": 0, "rank": None, "entries": []}
    if found:
        score, rank = found
        offset = max(rank - 1 - radius, 0)
        entries = await _ranked_slice(context, board, rank - offset + radius, offset)
        shown = [
            entry.to_public() | ({"userId": str(entry.user_id)} if entry.user_id == principal.user_id else {})
            for entry in entries
        ]
        body |= {"score": score, "rank": rank, "entries": shown}
    return JSONResponse(body)
