"""Who may call /api/admin/*: the guards of every write, then the admin role (ARCHITECTURE.md: Operators).

Order: IP limit, the caller (401), per-user limit (admins are rate-limited like writers, so a
leaked admin token cannot hammer the database), then the role (403 `not_admin`). Nothing of a
request body or query is looked at before the caller is known to be an admin.

The caller is a bearer token whenever one is sent (scripts, and the admin page signed in with a
pasted token); else the admin page's session after an OIDC sign-in, whose writes must also pass
the same-origin and CSRF checks (services/api/csrf.py).
"""

from __future__ import annotations

from starlette.requests import Request

from scoreboard.domain.errors import Reason, Unauthorized
from scoreboard.domain.models import Principal
from services.api import admin_session
from services.api.context import ApiContext
from services.api.csrf import check_page_write
from services.api.guards import authenticate, guarded_principal


async def _bearer_or_session(request: Request, context: ApiContext) -> Principal:
    if "authorization" in request.headers:
        return await authenticate(request, context)
    identity = await admin_session.active(request, context.redis)
    if identity is None:
        return await authenticate(request, context)  # 401: a bearer token is required
    assert context.settings.admin_public_url is not None  # a session exists only with OIDC on
    check_page_write(request, origin=context.settings.admin_public_url, token=identity.csrf)
    principal = identity.principal()
    request.state.user_id = principal.user_id
    return principal


async def admin_principal(request: Request, context: ApiContext) -> Principal:
    principal = await guarded_principal(request, context, scope="admin", identify=_bearer_or_session)
    if not principal.admin:
        raise Unauthorized("this route is for admins", reason=Reason.NOT_ADMIN)
    return principal
