"""/api/admin/users/{id}/ban and /unban: a banned user leaves every board and may not play."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from services.api import moderating
from services.api.routes.admin.steps import no_store, read_decision


async def set_banned(request: Request, *, banned: bool) -> Response:
    """POST .../{id}/ban (banned=True) and .../{id}/unban."""
    context, decision = await read_decision(request)
    return no_store(request, await moderating.set_banned(context, decision, banned=banned))
