"""GET /api/admin/audit?cursor=&limit=: the audit log, newest first, keyset-paged."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import audit
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.web.responses import JSONResponse
from services.api.admin_auth import admin_principal
from services.api.admin_schemas import decode_cursor, encode_cursor
from services.api.context import context_of
from services.api.queries import int_query
from services.api.routes.admin.database import database_unavailable

MAX_PAGE = 200


async def list_audit(request: Request) -> Response:
    context = context_of(request)
    await admin_principal(request, context)
    before_id = decode_cursor(request.query_params.get("cursor"))
    limit = int_query(request, "limit", default=50, low=1, high=MAX_PAGE)
    try:
        records = await audit.page(context.pool, before_id=before_id, limit=limit + 1)
    except DB_DOWN as error:
        raise database_unavailable() from error
    page, more = records[:limit], len(records) > limit
    body = {
        "items": [record.to_json() for record in page],
        "nextCursor": encode_cursor(page[-1].id) if more else None,
    }
    return JSONResponse(body, headers={**request.state.extra_headers, "Cache-Control": "no-store"})
