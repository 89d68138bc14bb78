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
    context.moderation.refuse_banned(principal.user_id)
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
    standings, top = await scoring.rank_after_commit(context, principal, record, is_public)
    answer = _answer(principal, standings, replayed=False)
    if top is not None:
        answer["top10IfChanged"] = top
    return JSONResponse(answer, headers=request.state.extra_headers)


def _answer(principal: Principal, standings: list[scoring.Standing], *, replayed: bool) -> dict[str, Any]:
    """newScore and rank of the main board (the first counting the type: `global` when it
    does), and every board's window, score and rank (ARCHITECTURE.md: Boards and windows)."""
    main = standings[0] if standings else scoring.Standing("", "", 0, None)
    return {
        "userId": str(principal.user_id),
        "newScore": main.score,
        "rank": main.rank,
        "replayed": replayed,
        "boards": {
            standing.board_id: {
                "window": standing.window_id,
                "newScore": standing.score,
                "rank": standing.rank,
            }
            for standing in standings
        },
    }


async def _replayed(
    request: Request, context: ApiContext, principal: Principal, record: IncrementRecord
) -> Response:
    """The stored answer of a completed request: its scores then, the ranks now."""
    context.metrics.idempotency.labels("replay").inc()
    answer = _answer(
        principal, await scoring.standings_now(context, principal.user_id, record), replayed=True
    )
    return JSONResponse(answer, headers={**request.state.extra_headers, "Idempotent-Replayed": "true"})
