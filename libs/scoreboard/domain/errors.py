"""Every error code of the public API, and the domain errors that carry them.

Domain errors know nothing of HTTP; services/api/errors.py maps each code to a status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNAUTHORIZED = "UNAUTHORIZED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    ABUSE_REJECTED = "ABUSE_REJECTED"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    NOT_FOUND = "NOT_FOUND"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Reason(StrEnum):
    USER_MISMATCH = "user_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    TIMESTAMP_OUT_OF_WINDOW = "timestamp_out_of_window"
    TICKET_INVALID = "ticket_invalid"
    TICKET_EXPIRED = "ticket_expired"
    TOO_FAST = "too_fast"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a reason code, not a secret
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a reason code, not a secret
    TOKEN_MISSING = "token_missing"  # noqa: S105 - a reason code, not a secret
    PAYLOAD_MISMATCH = "payload_mismatch"
    NO_SIGNING_KEY = "no_signing_key"
    DATABASE_UNAVAILABLE = "database_unavailable"
    STREAM_UNAVAILABLE = "stream_unavailable"
    NOT_ADMIN = "not_admin"
    CSRF_REFUSED = "csrf_refused"  # a cookie-authenticated write not proven same-origin
    MAINTENANCE = "maintenance"
    SESSION_UNVERIFIABLE = "session_unverifiable"  # Redis cannot say whether an admin session was signed out
    USER_BANNED = "user_banned"
    SAME_REVIEWER = "same_reviewer"
    ALREADY_REVIEWED = "already_reviewed"
    ALREADY_BANNED = "already_banned"
    NOT_BANNED = "not_banned"
    REVIEW_CLOSED = "review_closed"
    WINDOW_CLOSED = "window_closed"


# What a refusal says when whoever raises it says nothing more precise.
DEFAULT_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.VALIDATION_ERROR: "the request is not valid",
    ErrorCode.UNAUTHENTICATED: "a valid bearer token is required",
    ErrorCode.UNAUTHORIZED: "this request is not allowed",
    ErrorCode.IDEMPOTENCY_CONFLICT: "this actionId was already used with a different payload",
    ErrorCode.ABUSE_REJECTED: "the request was refused by an anti-abuse rule",
    ErrorCode.CONFLICT: "the resource is not in a state that allows this",
    ErrorCode.RATE_LIMITED: "too many requests",
    ErrorCode.NOT_FOUND: "no such resource",
    ErrorCode.UNAVAILABLE: "the service is temporarily unavailable",
    ErrorCode.INTERNAL_ERROR: "internal error",
}


class ScoreboardError(Exception):
    """A refusal the API answers with its code; each subclass names its code where it is declared:
    `class NotFound(ScoreboardError, code=ErrorCode.NOT_FOUND)`."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init_subclass__(cls, *, code: ErrorCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: Reason | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or DEFAULT_MESSAGES[self.code]
        self.reason = reason
        self.details = dict(details or {})
        if reason is not None:
            self.details.setdefault("reason", reason.value)
        super().__init__(self.message)


class ValidationFailed(ScoreboardError, code=ErrorCode.VALIDATION_ERROR):
    """A body, query or path that is not valid; details name the fields."""


class Unauthenticated(ScoreboardError, code=ErrorCode.UNAUTHENTICATED):
    """No token, or one that is not valid or has expired (bearer, stream or admin session)."""


class Unauthorized(ScoreboardError, code=ErrorCode.UNAUTHORIZED):
    """A caller who is known but may not do this: another user's score, a bad signature or
    ticket, a banned account, a non-admin, an admin approving their own proposal."""


class NotFound(ScoreboardError, code=ErrorCode.NOT_FOUND):
    """No such board, user, review or adjustment."""


class IdempotencyConflict(ScoreboardError, code=ErrorCode.IDEMPOTENCY_CONFLICT):
    """An actionId used again with a different payload."""


class AbuseRejected(ScoreboardError, code=ErrorCode.ABUSE_REJECTED):
    """Refused by an anti-abuse rule, e.g. an increment sent too soon after its ticket."""


class Conflict(ScoreboardError, code=ErrorCode.CONFLICT):
    """An admin resource is not in a state that allows this (approved already, not banned...)."""


class RateLimited(ScoreboardError, code=ErrorCode.RATE_LIMITED):
    """Over a rate limit; details say which scope and when to retry."""

    def __init__(self, retry_after_s: int, scope: str) -> None:
        super().__init__(
            f"too many requests for this {scope}; retry after {retry_after_s} s",
            details={"scope": scope, "retryAfter": retry_after_s},
        )
        self.retry_after_s = retry_after_s


class Unavailable(ScoreboardError, code=ErrorCode.UNAVAILABLE):
    """A store the request needs is down, a key it needs is not configured, or maintenance is on."""

    def __init__(self, message: str | None = None, *, reason: Reason, retry_after_s: int = 1):
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s
