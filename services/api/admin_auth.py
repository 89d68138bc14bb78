"""Who may call /api/admin/*: the guards of every write, then the admin role (ARCHITECTURE.md: Operators).

Order: IP limit, bearer token (401), per-user limit (admins are rate-limited like writers, so a
leaked admin token cannot hammer the database), then the role (403 `not_admin`). Nothing of a
request body or query is looked at before the caller is known to be an admin.
"""

from __future__ import annotations

from starlette.requests import Request

from scoreboard.domain.errors import Reason, Unauthorized
from scoreboard.domain.models import Principal
from services.api.context import ApiContext
from services.api.guards import guarded_principal


async def admin_principal(request: Request, context: ApiContext) -> Principal:
    principal = await guarded_principal(request, context, scope="admin")
    if not principal.admin:
        raise Unauthorized("this route is for admins", reason=Reason.NOT_ADMIN)
    return principal
