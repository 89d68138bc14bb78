"""GET /api/realtime/token: a short-lived token for the caller's own private stream."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.web.responses import JSONResponse
from services.api.context import context_of
from services.api.guards import authenticate, limit_ip


async def realtime_token(request: Request) -> Response:
    context = context_of(request)
    await limit_ip(request, context, "read-ip")
    principal = await authenticate(request, context)
    token = context.realtime_tokens.issue(principal.user_id)
    return JSONResponse(
        {"token": token, "expiresIn": context.realtime_tokens.ttl_s},
        headers={"Cache-Control": "no-store"},
    )
