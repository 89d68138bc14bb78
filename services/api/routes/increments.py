"""POST /api/scores/increment."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.errors import Reason, Unauthorized
from scoreboard.domain.models import IncrementRecord, Principal
from scoreboard.domain.text import clean_text
from scoreboard.web.responses import JSONResponse
from services.api import scoring
from services.api.context import ApiContext, context_of
from services.api.guards import guarded_principal
from services.api.maintenance import refuse_while_increments_off
from services.api.request_body import load_object, read_body
from services.api.schemas import IncrementRequest, validate


async def increment_score(request: Request) -> Response:
    context = context_of(request)
    refuse_while_increments_off(context)
    principal = await guarded_principal(request, context, scope="increment")
    data = load_object(await read_body(request))
    body = validate(data, IncrementRequest)
    timestamp = scoring.parse_timestamp(request.headers.get("x-request-timestamp"))
    try:
        action_type, delta = scoring.verify_request(
            context, principal, body, str(data["userId"]), str(data["actionId"]), timestamp
        )
    except Unauthorized as refused:
        if refused.reason is not Reason.TICKET_EXPIRED:
            raise
        record = await scoring.replay_after_expiry(context, principal, body, refused)
        return await _replayed(request, context, principal, record)
    client = scoring.ClientInfo(
        ip=request.state.client_ip,
        user_agent=clean_text(request.headers.get("user-agent") or "", 512) or None,
        device_id=clean_text(request.headers.get("x-device-id") or "", 128) or None,
    )
    record, is_public = await scoring.commit(context, principal, body, action_type, delta, client)
    if not record.inserted:
        return await _replayed(request, context, principal, record)
    context.metrics.increments.inc()
    rank, top = await scoring.rank_after_commit(context, principal, record, is_public)
    answer: dict[str, Any] = {
        "userId": str(principal.user_id),
        "newScore": record.score_after,
        "rank": rank,
        "replayed": False,
    }
    if top is not None:
        answer["top10IfChanged"] = top
    return JSONResponse(answer, headers=request.state.extra_headers)


async def _replayed(
    request: Request, context: ApiContext, principal: Principal, record: IncrementRecord
) -> Response:
    """The stored answer of a completed request: its score then, the rank now."""
    context.metrics.idempotency.labels("replay").inc()
    answer = {
        "userId": str(principal.user_id),
        "newScore": record.score_after,
        "rank": await scoring.current_rank(context, principal.user_id),
        "replayed": True,
    }
    return JSONResponse(answer, headers={**request.state.extra_headers, "Idempotent-Replayed": "true"})
