"""GET and PUT /api/admin/flags: the runtime flags, changed with a reason, each change audited."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db import audit
from scoreboard.db import flags as stored_flags
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.flags import StoredFlags
from scoreboard.domain.models import Principal
from scoreboard.redis_store import flags_mirror
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.web.middleware import request_id_of
from services.api.admin_schemas import FlagsUpdate
from services.api.context import ApiContext
from services.api.routes.admin.database import database_unavailable
from services.api.routes.admin.steps import admin_body, no_store, signed_in_admin

log = logging.getLogger("scoreboard.api.admin")


def _answer(request: Request, stored: StoredFlags) -> Response:
    return no_store(request, {**stored.flags.to_json(), "version": stored.version})


async def get_flags(request: Request) -> Response:
    context, _ = await signed_in_admin(request)
    try:
        stored = await stored_flags.read(context.pool)
    except DB_DOWN as error:
        raise database_unavailable() from error
    return _answer(request, stored)


async def put_flags(request: Request) -> Response:
    context, principal = await signed_in_admin(request)
    update = await admin_body(request, FlagsUpdate)
    after = await _commit(context, principal, update, request_id_of(request.scope))
    await _spread(context, after)
    return _answer(request, after)


async def _commit(
    context: ApiContext, principal: Principal, update: FlagsUpdate, request_id: str
) -> StoredFlags:
    """The change and its audit row, in one transaction."""
    try:
        async with audit.audited(context.pool) as work:
            before, after = await stored_flags.update(work.connection, update.changes())
            await work.append(
                audit.AuditEntry(
                    actor=str(principal.user_id),
                    action="flags.update",
                    target="flags",
                    before={**before.flags.to_json(), "version": before.version},
                    after={**after.flags.to_json(), "version": after.version},
                    reason=update.reason,
                    request_id=request_id,
                )
            )
    except DB_DOWN as error:
        raise database_unavailable() from error
    return after


async def _spread(context: ApiContext, after: StoredFlags) -> None:
    """The gateway's copy now (else the worker writes it within a second), and this process at
    once; the other processes read it within their refresh interval."""
    try:
        await flags_mirror.publish(context.redis, after)
    except REDIS_DOWN:
        log.warning("Redis unavailable: the worker will copy the flags", extra={"version": after.version})
    await context.flags.refresh()
