"""PUT /api/me/privacy: the caller chooses to be shown by name or anonymised (ARCHITECTURE.md: Write API)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import users
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.job_queue import refresh_profiles_job
from scoreboard.web.responses import JSONResponse
from services.api.context import context_of
from services.api.guards import guarded_principal
from services.api.request_body import load_object, read_body
from services.api.schemas import PrivacyRequest, validate

log = logging.getLogger("scoreboard.api.privacy")


async def set_privacy(request: Request) -> Response:
    context = context_of(request)
    principal = await guarded_principal(request, context, scope="privacy")
    body = validate(load_object(await read_body(request)), PrivacyRequest)
    try:
        _, public = await users.set_public(
            context.pool, principal.user_id, principal.display_name, body.public
        )
    except DB_DOWN as error:
        raise Unavailable(
            "the database is unavailable; retry shortly", reason=Reason.DATABASE_UNAVAILABLE, retry_after_s=2
        ) from error
    context.top_cache.clear()  # this process shows it at once; the others within their cache window
    try:  # the worker shows it on every board and stream now; else its profile feed does, within ~1 s
        await context.jobs.enqueue(refresh_profiles_job([principal.user_id]))
    except REDIS_DOWN:
        log.warning("Redis unavailable; the worker's profile feed will carry the privacy change")
    return JSONResponse(
        {"userId": str(principal.user_id), "public": public},
        headers={**request.state.extra_headers, "Cache-Control": "no-store"},
    )
