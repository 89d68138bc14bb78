"""The one place where domain errors become HTTP statuses and the `{code, message, details}` body."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.errors import ErrorCode, RateLimited, ScoreboardError, Unavailable
from scoreboard.security.masking import mask_ip
from scoreboard.web.responses import JSONResponse

STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.UNAUTHORIZED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.ABUSE_REJECTED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
}

audit_log = logging.getLogger("scoreboard.audit")
error_log = logging.getLogger("scoreboard.api")


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


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScoreboardError)
    status = getattr(exc, "status_override", None)
    response = error_response(exc, status)
    for name, value in getattr(request.state, "extra_headers", {}).items():
        response.headers.setdefault(name, value)
    audit_log.info(
        "rejected",
        extra={
            "code": exc.code.value,
            "reason": exc.details.get("reason"),
            "status": response.status_code,
            "route": request.url.path,
            "user_id": str(getattr(request.state, "user_id", "") or "") or None,
            "ip": mask_ip(getattr(request.state, "client_ip", None)),
        },
    )
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    error_log.error("unhandled error", exc_info=exc, extra={"route": request.url.path})
    return JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "internal error"), status_code=500)


EXCEPTION_HANDLERS = {
    ScoreboardError: handle_domain_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
