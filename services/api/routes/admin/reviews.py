"""/api/admin/reviews: the anomaly detector's quarantines, cleared or turned into bans."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import reviews
from scoreboard.db.reviews import ReviewStatus
from services.api import moderating
from services.api.admin_schemas import status_query
from services.api.routes.admin.steps import keyset_page, no_store, read_decision, signed_in_admin


async def list_reviews(request: Request) -> Response:
    context, _ = await signed_in_admin(request)
    status = status_query(request.query_params.get("status"), ReviewStatus)
    return await keyset_page(
        request,
        lambda before, limit: reviews.page(context.pool, status=status, before_seq=before, limit=limit),
        cursor_of=lambda review: review.seq,
    )


async def decide(request: Request, *, ban: bool) -> Response:
    """POST .../{id}/ban (ban=True) and .../{id}/clear."""
    context, decision = await read_decision(request)
    decided = await moderating.decide_review(context, decision, ban=ban)
    return no_store(request, decided.to_json())
