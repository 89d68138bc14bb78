"""/api/admin/reviews: the anomaly detector's quarantines, cleared or turned into bans."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import reviews
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.db.reviews import ReviewStatus
from scoreboard.web.middleware import request_id_of
from scoreboard.web.responses import JSONResponse
from services.api import moderating
from services.api.admin_auth import admin_principal
from services.api.admin_schemas import (
    ADMIN_MAX_BODY_BYTES,
    AdminDecision,
    decode_cursor,
    encode_cursor,
    id_path,
    status_query,
)
from services.api.context import context_of
from services.api.queries import int_query
from services.api.request_body import load_object, read_body
from services.api.routes.admin.database import database_unavailable
from services.api.schemas import validate

MAX_PAGE = 200


def _no_store(request: Request) -> dict[str, str]:
    return {**request.state.extra_headers, "Cache-Control": "no-store"}


async def list_reviews(request: Request) -> Response:
    context = context_of(request)
    await admin_principal(request, context)
    status = status_query(request.query_params.get("status"), ReviewStatus)
    before = decode_cursor(request.query_params.get("cursor"))
    limit = int_query(request, "limit", default=50, low=1, high=MAX_PAGE)
    try:
        found = await reviews.page(context.pool, status=status, before_seq=before, limit=limit + 1)
    except DB_DOWN as error:
        raise database_unavailable() from error
    page, more = found[:limit], len(found) > limit
    body = {
        "items": [item.to_json() for item in page],
        "nextCursor": encode_cursor(page[-1].seq) if more else None,
    }
    return JSONResponse(body, headers=_no_store(request))


async def clear(request: Request) -> Response:
    return await _decide(request, ban=False)


async def ban(request: Request) -> Response:
    return await _decide(request, ban=True)


async def _decide(request: Request, *, ban: bool) -> Response:
    context = context_of(request)
    principal = await admin_principal(request, context)
    review_id = id_path(request.path_params["id"])
    body = validate(load_object(await read_body(request, ADMIN_MAX_BODY_BYTES)), AdminDecision)
    decided = await moderating.decide_review(
        context, principal, review_id, ban=ban, reason=body.reason, request_id=request_id_of(request.scope)
    )
    return JSONResponse(decided.to_json(), headers=_no_store(request))
