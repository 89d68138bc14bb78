"""POST /api/scores/increment."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.text import clean_text
from scoreboard.web.responses import JSONResponse
from services.api import increments
from services.api.context import context_of
from services.api.guards import guarded_principal
from services.api.schemas import IncrementRequest, load_object, read_body, validate


async def increment_score(request: Request) -> Response:
    context = context_of(request)
    principal = await guarded_principal(request, context, scope="increment")
    data = load_object(await read_body(request))
    body = validate(data, IncrementRequest)
    timestamp = increments.parse_timestamp(request.headers.get("x-request-timestamp"))
    action_type, delta = increments.verify_request(
        context, principal, body, str(data["userId"]), str(data["actionId"]), timestamp
    )
    client = increments.ClientInfo(
        ip=request.state.client_ip,
        user_agent=clean_text(request.headers.get("user-agent") or "", 512) or None,
        device_id=clean_text(request.headers.get("x-device-id") or "", 128) or None,
    )
    record, is_public = await increments.commit(context, principal, body, action_type, delta, client)
    headers: dict[str, str] = dict(request.state.extra_headers)
    answer: dict[str, Any] = {"userId": str(principal.user_id), "newScore": record.score_after}
    if record.inserted:
        context.metrics.increments.inc()
        rank, top = await increments.rank_after_commit(context, principal, record, is_public)
        answer |= {"rank": rank, "replayed": False}
        if top is not None:
            answer["top10IfChanged"] = top
    else:
        context.metrics.idempotency.labels("replay").inc()
        answer |= {"rank": await increments.current_rank(context, principal.user_id), "replayed": True}
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer, headers=headers)
