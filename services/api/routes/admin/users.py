"""/api/admin/users/{id}/ban and /unban: a banned user leaves every board and may not play."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.web.middleware import request_id_of
from scoreboard.web.responses import JSONResponse
from services.api import moderating
from services.api.admin_auth import admin_principal
from services.api.admin_schemas import ADMIN_MAX_BODY_BYTES, AdminDecision, id_path
from services.api.context import context_of
from services.api.request_body import load_object, read_body
from services.api.schemas import validate


async def ban(request: Request) -> Response:
    return await _set_banned(request, banned=True)


async def unban(request: Request) -> Response:
    return await _set_banned(request, banned=False)


async def _set_banned(request: Request, *, banned: bool) -> Response:
    context = context_of(request)
    principal = await admin_principal(request, context)
    user_id = id_path(request.path_params["id"])
    body = validate(load_object(await read_body(request, ADMIN_MAX_BODY_BYTES)), AdminDecision)
    after = await moderating.set_banned(
        context,
        principal,
        user_id,
        banned=banned,
        reason=body.reason,
        request_id=request_id_of(request.scope),
    )
    return JSONResponse(after, headers={**request.state.extra_headers, "Cache-Control": "no-store"})
