"""/api/admin/adjustments: propose, approve, reject and list score adjustments (two-person rule)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import adjustments
from scoreboard.db.adjustments import AdjustmentStatus
from scoreboard.web.middleware import request_id_of
from services.api import adjusting
from services.api.admin_schemas import AdjustmentProposal
from services.api.routes.admin.steps import (
    admin_body,
    list_by_status,
    no_store,
    read_decision,
    signed_in_admin,
)


async def propose(request: Request) -> Response:
    context, principal = await signed_in_admin(request)
    body = await admin_body(request, AdjustmentProposal)
    proposed = await adjusting.propose(context, principal, body, request_id_of(request.scope))
    return no_store(request, proposed.to_json(), status_code=201)


async def review(request: Request, *, approve: bool) -> Response:
    """POST .../{id}/approve (approve=True) and .../{id}/reject."""
    context, decision = await read_decision(request)
    reviewed = await adjusting.review(
        context,
        decision,
        approve=approve,
        ip=getattr(request.state, "client_ip", None),
        user_agent=request.headers.get("user-agent"),
    )
    return no_store(request, reviewed.to_json())


async def list_adjustments(request: Request) -> Response:
    return await list_by_status(request, AdjustmentStatus, adjustments.page)
