"""The one place where domain errors become HTTP statuses and the `{code, message, details}` body."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoreboard.domain.errors import ErrorCode, RateLimited, ScoreboardError, Unavailable
from scoreboard.security.masking import mask_ip
from scoreboard.web.middleware import request_id_of
from scoreboard.web.responses import JSONResponse

STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.UNAUTHORIZED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.ABUSE_REJECTED: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
}

audit_log = logging.getLogger("scoreboard.audit")
# Every service answers through here: the JSON line's `service` field says which one.
error_log = logging.getLogger("scoreboard.errors")


def error_body(code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code.value, "message": message, "details": details or {}}


def error_response(error: ScoreboardError, status: int | None = None) -> JSONResponse:
    headers: dict[str, str] = {}
    if error.code is ErrorCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, RateLimited | Unavailable):
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=status or STATUS_OF[error.code],
        headers=headers,
    )


def audit_rejection(
    error: ScoreboardError, status: int, *, route: str, user_id: str | None, ip: str | None
) -> None:
    """One structured line per refused request (ARCHITECTURE.md: Write API: code, reason, masked IP, user)."""
    audit_log.info(
        "rejected",
        extra={
            "code": error.code.value,
            "reason": error.details.get("reason"),
            "status": status,
            "route": route,
            "user_id": user_id,
            "ip": mask_ip(ip),
        },
    )


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScoreboardError)
    status = getattr(exc, "status_override", None)
    response = error_response(exc, status)
    for name, value in getattr(request.state, "extra_headers", {}).items():
        response.headers.setdefault(name, value)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    user_id = str(getattr(request.state, "user_id", "") or "") or None
    audit_rejection(
        exc, response.status_code, route=route, user_id=user_id, ip=getattr(request.state, "client_ip", None)
    )
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def internal_error(request_id: str) -> JSONResponse:
    """The documented 500: a fixed message, never the exception's text (no stack trace, no SQL)."""
    return JSONResponse(
        error_body(ErrorCode.INTERNAL_ERROR, "internal error"),
        status_code=500,
        headers={"x-request-id": request_id},
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Starlette's last resort (ServerErrorMiddleware, outside every other middleware): reached
    only when a middleware itself failed, since InternalErrors answers the routes' own failures."""
    error_log.error("unhandled error", exc_info=exc, extra={"route": request.url.path})
    return internal_error(request_id_of(request.scope))


class InternalErrors:
    """Answers an exception that no handler took with the documented 500, *inside* every other
    middleware: Starlette's catch-all answers outside all of them, so its 500 had no x-request-id,
    no CORS headers, and was missing from the request metrics.

    Placed last (innermost). A response already started cannot be replaced: that exception goes
    on to the server, which closes the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            error_log.error("unhandled error", exc_info=exc, extra={"route": scope["path"]})
            # The id is added by RequestContextMiddleware on the way out (same value).
            response = JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "internal error"), status_code=500)
            await response(scope, receive, send)


EXCEPTION_HANDLERS = {
    ScoreboardError: handle_domain_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
