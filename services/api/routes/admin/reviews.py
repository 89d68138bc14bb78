"""/api/admin/reviews: the anomaly detector's quarantines, cleared or turned into bans."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import reviews
from scoreboard.db.reviews import ReviewStatus
from services.api import moderating
from services.api.routes.admin.steps import list_by_status, no_store, read_decision


async def list_reviews(request: Request) -> Response:
    return await list_by_status(request, ReviewStatus, reviews.page)


async def decide(request: Request, *, ban: bool) -> Response:
    """POST .../{id}/ban (ban=True) and .../{id}/clear."""
    context, decision = await read_decision(request)
    decided = await moderating.decide_review(context, decision, ban=ban)
    return no_store(request, decided.to_json())
