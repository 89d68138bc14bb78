"""GET /api/admin/audit?cursor=&limit=: the audit log, newest first, keyset-paged."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import audit
from services.api.routes.admin.steps import keyset_page, signed_in_admin


async def list_audit(request: Request) -> Response:
    context, _ = await signed_in_admin(request)
    return await keyset_page(
        request,
        lambda before, limit: audit.page(context.pool, before_id=before, limit=limit),
        cursor_of=lambda record: record.id,
    )
