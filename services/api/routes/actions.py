"""POST /api/actions: hand out an action ticket (the server nonce)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from uuid_utils.compat import uuid7

from scoreboard.domain.errors import RateLimited, ValidationFailed
from scoreboard.security.tickets import Ticket
from scoreboard.web.responses import JSONResponse
from services.api.context import context_of
from services.api.guards import guarded_principal
from services.api.maintenance import refuse_while_increments_off
from services.api.request_body import load_object, read_body
from services.api.schemas import ActionRequest, validate


async def create_action(request: Request) -> Response:
    context = context_of(request)
    refuse_while_increments_off(context)
    principal = await guarded_principal(request, context, scope="actions")
    context.moderation.refuse_banned(principal.user_id)
    body = validate(load_object(await read_body(request)), ActionRequest)
    action_type = context.action_types.get(body.type)
    if action_type is None:
        raise ValidationFailed(
            "unknown action type", details={"field": "type", "known": sorted(context.action_types)}
        )
    slot = await context.stagger.reserve(str(principal.user_id), action_type)
    if not slot.granted:  # so many tickets taken in advance that a new one would expire unused
        raise RateLimited(slot.retry_after_s, "user")
    ticket = Ticket(
        principal.user_id, uuid7(), action_type.name, int(time.time() * 1000), earliest_ms=slot.not_before_ms
    )
    payload = {
        "actionId": str(ticket.action_id),
        "nonce": context.tickets.issue(ticket),
        "type": action_type.name,
        "points": action_type.points,
        "notBefore": ticket.not_before_ms(action_type),
        "expiresAt": ticket.expires_at_ms(action_type),
    }
    return JSONResponse(payload, status_code=201, headers=request.state.extra_headers)
