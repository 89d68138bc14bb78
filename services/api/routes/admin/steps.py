"""The steps every /api/admin/* route shares (ARCHITECTURE.md: Operators): the admin asking,
their decision's reason, a keyset page of a table, and an answer no cache keeps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.models import Principal
from scoreboard.web.middleware import request_id_of
from scoreboard.web.responses import JSONResponse
from services.api.admin_auth import admin_principal
from services.api.admin_schemas import (
    ADMIN_MAX_BODY_BYTES,
    AdminDecision,
    Decision,
    decode_cursor,
    encode_cursor,
    id_path,
    status_query,
)
from services.api.context import ApiContext, context_of
from services.api.queries import int_query
from services.api.request_body import load_object, read_body
from services.api.routes.admin.database import database_unavailable
from services.api.schemas import validate

MAX_PAGE = 200

Body = TypeVar("Body", bound=BaseModel)


class _Listed(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class _Sequenced(_Listed, Protocol):
    @property
    def seq(self) -> int: ...


Row = TypeVar("Row", bound=_Listed)


def no_store(request: Request, body: Any, *, status_code: int = 200) -> Response:
    """Admin answers change with every decision: no cache may keep one."""
    headers = {**request.state.extra_headers, "Cache-Control": "no-store"}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def signed_in_admin(request: Request) -> tuple[ApiContext, Principal]:
    context = context_of(request)
    return context, await admin_principal(request, context)


async def admin_body(request: Request, model: type[Body]) -> Body:
    return validate(load_object(await read_body(request, ADMIN_MAX_BODY_BYTES)), model)


async def read_decision(request: Request) -> tuple[ApiContext, Decision]:
    """The admin first (401/403), then the path's id, then the body (400 names the field)."""
    context, principal = await signed_in_admin(request)
    target_id = id_path(request.path_params["id"])
    body = await admin_body(request, AdminDecision)
    return context, Decision(principal, target_id, body.reason, request_id_of(request.scope))


async def keyset_page(
    request: Request,
    fetch: Callable[[int | None, int], Awaitable[Sequence[Row]]],
    cursor_of: Callable[[Row], int],
) -> Response:
    """`?cursor=&limit=`: the rows `fetch(before, limit)` reads, newest first. It is asked for one
    row more than the page holds: that row's presence is what says another page follows."""
    before = decode_cursor(request.query_params.get("cursor"))
    limit = int_query(request, "limit", default=50, low=1, high=MAX_PAGE)
    try:
        found = await fetch(before, limit + 1)
    except DB_DOWN as error:
        raise database_unavailable() from error
    page, more = found[:limit], len(found) > limit
    body = {
        "items": [row.to_json() for row in page],
        "nextCursor": encode_cursor(cursor_of(page[-1])) if more else None,
    }
    return no_store(request, body)


async def list_by_status(
    request: Request, statuses: type[StrEnum], page: Callable[..., Awaitable[Sequence[_Sequenced]]]
) -> Response:
    """GET /api/admin/<things>?status=&cursor=&limit=: a work queue (adjustments, reviews), newest
    first, of one status or of all; `page` is its table module's (db/paging.py)."""
    context, _ = await signed_in_admin(request)
    status = status_query(request.query_params.get("status"), statuses)
    return await keyset_page(
        request,
        lambda before, limit: page(context.pool, status=status, before_seq=before, limit=limit),
        cursor_of=lambda item: item.seq,
    )
