"""The OpenAPI document of the API, served at /api/openapi.json and checked by tests.

Request bodies are the JSON schemas of the pydantic models the server validates with, and the
`board` pattern is the server's own, so the document cannot be looser than the server; the
action types are this deployment's, so the document is built per app from its settings. The
query and header constraints are checked against the server's answers by a test
(tests/integration/test_openapi.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.db.adjustments import AdjustmentStatus
from scoreboard.db.reviews import ReviewStatus
from scoreboard.domain.boards import BOARD_PATTERN
from scoreboard.domain.errors import ErrorCode
from scoreboard.domain.windows import WINDOW_ID_PATTERN
from services.api.admin_schemas import AdjustmentProposal, AdminDecision, FlagsUpdate
from services.api.schemas import ActionRequest, IncrementRequest, PrivacyRequest

TIMESTAMP_PATTERN = "^[0-9]{1,12}$"  # as services/api/scoring.py parse_timestamp


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# Every response carries one (ARCHITECTURE.md: Write API); refusals that may be retried say when.
_REQUEST_ID = {"x-request-id": {"required": True, "schema": {"type": "string", "minLength": 1}}}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"required": True, "schema": {"type": "string", "pattern": "^Bearer"}}
}
_RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"}}}


def _json(schema: dict[str, Any], description: str, **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _REQUEST_ID | headers,
        "content": {"application/json": {"schema": schema}},
    }


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    return _json(_ref("Error"), description, **(_RETRY_AFTER if retry_after else {}))


def _required_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _plain(description: str) -> dict[str, Any]:
    return {"description": description, "headers": _REQUEST_ID}


def _object(properties: dict[str, Any], *, optional: Collection[str] = ()) -> dict[str, Any]:
    """A JSON object whose properties are all required but the `optional` ones: the required list
    is derived, so it cannot drift from the properties."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties}


_UUID = {"type": "string", "format": "uuid"}
_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_SCORE = {"type": "integer", "minimum": 0}
_RANK_OR_NULL = {"type": ["integer", "null"], "minimum": 1}
_RANKED = _object(
    {
        "userId": {"type": ["string", "null"], "format": "uuid", "description": "null for private users"},
        "displayName": _TEXT,
        "score": _SCORE,
        "rank": {"type": "integer", "minimum": 1},
    }
)
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_BOARD = {
    "name": "board",
    "in": "query",
    "schema": {"type": "string", "pattern": BOARD_PATTERN.pattern, "default": "global"},
}

_WINDOW = {
    "name": "window",
    "in": "query",
    "description": "a window id of the board (2026-11-30, 2026-W49, 2026-11, 20261130T101500Z); "
    "default: the current window; a past one within the board's retention gives its final standings",
    "schema": {"type": "string", "pattern": WINDOW_ID_PATTERN.pattern},
}

_INTERNAL = {"500": _error("INTERNAL_ERROR: no stack trace or SQL in the body")}
_UNAVAILABLE = {"503": _error("UNAVAILABLE", retry_after=True)}
_COMMON_AUTH_ERRORS = {
    "400": _error("VALIDATION_ERROR"),
    "401": _json(_ref("Error"), "UNAUTHENTICATED", **_WWW_AUTHENTICATE),
    "429": _error("RATE_LIMITED", retry_after=True),
    **_UNAVAILABLE,
    **_INTERNAL,
}
_BOARD_ERRORS = {"404": _error("NOT_FOUND: unknown board, or a window past its retention")}
_ADMIN_ERRORS = {**_COMMON_AUTH_ERRORS, "403": _error("UNAUTHORIZED: not an admin (reason not_admin)")}
_TOO_LARGE = {"413": _error("VALIDATION_ERROR: body over 8 KiB")}
_BANNED = {"403": _error("UNAUTHORIZED: the caller is banned (reason user_banned)")}
_ADMIN_WRITE_ERRORS = {
    **_ADMIN_ERRORS,
    "404": _error("NOT_FOUND: no such adjustment, review, user, board or window"),
    "409": _error("CONFLICT: not in a state that allows it (details.reason says why)"),
    "413": _error("VALIDATION_ERROR: body over 32 KiB"),
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "description": "opaque: the nextCursor of the previous page",
    "schema": {"type": "string"},
}
_ADMIN_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
}


def _page(item: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "nextCursor": {"type": ["string", "null"], "description": "null on the last page"},
        }
    )


def _status(values: list[str]) -> dict[str, Any]:
    return {
        "name": "status",
        "in": "query",
        "description": "only those in this status (default: every status)",
        "schema": {"type": "string", "enum": values},
    }


def _admin_list(summary: str, statuses: list[str], page: str) -> dict[str, Any]:
    """GET of an admin work queue (adjustments, reviews): `?status=&cursor=&limit=`."""
    return {
        "get": {
            "summary": summary,
            "security": _BEARER,
            "parameters": [_status(statuses), _CURSOR, _ADMIN_LIMIT],
            "responses": {"200": _json(_ref(page), "one page"), **_ADMIN_ERRORS},
        }
    }


def _admin_post(summary: str, body: str, answer: str, status: str = "200", **extra: Any) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _BEARER,
            **extra,
            "requestBody": _required_body(body),
            "responses": {status: _json(_ref(answer), "done, audited"), **_ADMIN_WRITE_ERRORS},
        }
    }


def _work_item(statuses: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """An adjustment or a review: what an admin decides on, in an admin list (opened as
    db/work_items.py's WorkItem.to_json opens it)."""
    return _object(
        {"id": _UUID, "status": {"type": "string", "enum": statuses}, "userId": _UUID, **properties}
    )


# The admin lists' `?status=` and their items' `status`: the tables' own values.
_ADJUSTMENT_STATUSES = [status.value for status in AdjustmentStatus]
_REVIEW_STATUSES = [status.value for status in ReviewStatus]
_MY_SCORE = {"userId": _UUID, "board": _TEXT, "window": _TEXT, "score": _SCORE, "rank": _RANK_OR_NULL}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
            "message": _TEXT,
            "details": {"type": "object"},
        }
    ),
    "RankedEntry": _RANKED,
    "ActionTicket": _object(
        {
            "actionId": _UUID,
            "nonce": _TEXT,
            "type": _TEXT,
            "points": {"type": "integer", "minimum": 1},
            "notBefore": {"type": "integer", "description": "unix milliseconds"},
            "expiresAt": {"type": "integer", "description": "unix milliseconds"},
        }
    ),
    "IncrementResult": _object(
        {
            "userId": _UUID,
            "newScore": {**_SCORE, "description": "on the main board"},
            "rank": {**_RANK_OR_NULL, "description": "on the main board"},
            "replayed": {"type": "boolean"},
            "boards": {
                "type": "object",
                "description": "every board that counted the increment",
                "additionalProperties": _object({"window": _TEXT, "newScore": _SCORE, "rank": _RANK_OR_NULL}),
            },
            "top10IfChanged": {"type": "array", "items": _ref("RankedEntry")},
        },
        optional={"top10IfChanged"},
    ),
    "MyScore": _object(_MY_SCORE),
    "AroundMe": _object({**_MY_SCORE, "entries": {"type": "array", "items": _ref("RankedEntry")}}),
    "RealtimeToken": _object({"token": _TEXT, "expiresIn": {"type": "integer", "minimum": 1}}),
    "Health": _object({"status": _TEXT}),
    "Board": _object(
        {
            "id": _TEXT,
            "title": _TEXT,
            "types": {"type": "array", "items": _TEXT},
            "ranks": {"type": "string", "enum": ["unique", "shared"]},
            "retain": {"type": "integer", "minimum": 0},
            "window": _object(
                {
                    "id": _TEXT,
                    "start": {"type": ["integer", "null"], "description": "unix ms"},
                    "end": {"type": ["integer", "null"], "description": "unix ms, exclusive"},
                }
            ),
            "next": {"type": ["integer", "null"], "description": "the next reset, unix ms"},
        }
    ),
    "Privacy": _object(
        {"userId": _UUID, "public": {"type": "boolean", "description": "false: shown as Anonymous"}}
    ),
    "Flags": _object(
        {
            "increments": {"type": "boolean", "description": "false: writes answer 503 maintenance"},
            "realtime": {"type": "boolean", "description": "false: the gateway ends streams, answers 503"},
            "rate_limit_user_per_min": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "null: the environment's SCOREBOARD_RATE_LIMIT_USER_PER_MIN",
            },
            "rate_limit_ip_per_min": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "null: the environment's SCOREBOARD_RATE_LIMIT_IP_PER_MIN",
            },
            "version": {"type": "integer", "minimum": 0, "description": "grows with every change"},
        }
    ),
    "AuditRow": _object(
        {
            "id": {"type": "integer"},
            "at": _TIME,
            "actor": {"type": "string", "description": "the admin's user id, or a system actor"},
            "action": _TEXT,
            "target": _TEXT_OR_NULL,
            "before": {"type": ["object", "null"]},
            "after": {"type": ["object", "null"]},
            "reason": _TEXT,
            "requestId": _TEXT_OR_NULL,
        }
    ),
    "AuditPage": _page("AuditRow"),
    "Adjustment": _work_item(
        _ADJUSTMENT_STATUSES,
        {
            "board": _TEXT,
            "window": {"type": "string", "description": "the window it applies to (resolved when proposed)"},
            "delta": {"type": "integer", "description": "as proposed"},
            "reason": _TEXT,
            "proposedBy": _TEXT,
            "proposedAt": _TIME,
            "reviewedBy": _TEXT_OR_NULL,
            "reviewedAt": _TIME_OR_NULL,
            "reviewReason": _TEXT_OR_NULL,
            "appliedDelta": {
                "type": ["integer", "null"],
                "description": "what the approval really changed (a score never goes below 0)",
            },
            "scoreAfter": {"type": ["integer", "null"], "minimum": 0},
        },
    ),
    "AdjustmentPage": _page("Adjustment"),
    "Review": _work_item(
        _REVIEW_STATUSES,
        {
            "displayName": _TEXT,
            "rule": {"type": "string", "description": "the anomaly rule that fired, e.g. overall.per_minute"},
            "observed": {"type": "object", "description": "what the detector saw: points, limit, window"},
            "openedAt": _TIME,
            "closedBy": _TEXT_OR_NULL,
            "closedAt": _TIME_OR_NULL,
            "closeReason": _TEXT_OR_NULL,
        },
    ),
    "ReviewPage": _page("Review"),
    "UserState": _object(
        {"userId": _UUID, "state": {"type": "string", "enum": ["visible", "quarantined", "banned"]}}
    ),
}


def request_schemas(action_types: Collection[str]) -> dict[str, Any]:
    """The bodies, as the server's own models validate them; `type` names this app's action types."""
    action = ActionRequest.model_json_schema()
    action["properties"]["type"]["enum"] = sorted(action_types)
    return {
        "ActionRequest": action,
        "IncrementRequest": IncrementRequest.model_json_schema(),
        "PrivacyRequest": PrivacyRequest.model_json_schema(),
        "FlagsUpdate": FlagsUpdate.model_json_schema(),
        "AdjustmentProposal": AdjustmentProposal.model_json_schema(),
        "AdminDecision": AdminDecision.model_json_schema(),
    }


PATHS: dict[str, Any] = {
    "/api/actions": {
        "post": {
            "summary": "Take an action ticket (server nonce) before the action starts",
            "security": _BEARER,
            "requestBody": {"content": {"application/json": {"schema": _ref("ActionRequest")}}},
            "responses": {
                "201": _json(_ref("ActionTicket"), "a ticket"),
                **_COMMON_AUTH_ERRORS,
                **_BANNED,
                **_TOO_LARGE,
            },
        }
    },
    "/api/scores/increment": {
        "post": {
            "summary": "Add a finished action's points to the caller's score (idempotent)",
            "security": _BEARER,
            "parameters": [
                {
                    "name": "x-request-timestamp",
                    "in": "header",
                    "required": True,
                    "description": "unix seconds, within the signature tolerance of the server's clock",
                    "schema": {"type": "string", "pattern": TIMESTAMP_PATTERN},
                },
            ],
            "requestBody": _required_body("IncrementRequest"),
            "responses": {
                "200": _json(_ref("IncrementResult"), "committed, or replayed (Idempotent-Replayed: true)"),
                **_COMMON_AUTH_ERRORS,
                "403": _error("UNAUTHORIZED (details.reason says why; user_banned for a banned user)"),
                "409": _error("IDEMPOTENCY_CONFLICT or ABUSE_REJECTED"),
                **_TOO_LARGE,
            },
        }
    },
    "/api/leaderboards": {
        "get": {
            "summary": "The boards, their current window and the next reset",
            "responses": {
                "200": _json({"type": "array", "items": _ref("Board")}, "the boards"),
                "429": _error("RATE_LIMITED (per client address)", retry_after=True),
                **_INTERNAL,
            },
        }
    },
    "/api/leaderboard/top": {
        "get": {
            "summary": "The Top N (ETag and If-None-Match supported)",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                },
                _BOARD,
                _WINDOW,
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("RankedEntry")}, "ranked entries"),
                "304": _plain("unchanged since the ETag offered"),
                "400": _error("VALIDATION_ERROR"),
                **_BOARD_ERRORS,
                "429": _error("RATE_LIMITED (per client address)", retry_after=True),
                **_UNAVAILABLE,
                **_INTERNAL,
            },
        }
    },
    "/api/leaderboard/around/me": {
        "get": {
            "summary": "The entries around the caller's rank",
            "security": _BEARER,
            "parameters": [
                {
                    "name": "radius",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 25, "default": 5},
                },
                _BOARD,
                _WINDOW,
            ],
            "responses": {
                "200": _json(_ref("AroundMe"), "entries around me"),
                **_COMMON_AUTH_ERRORS,
                **_BANNED,
                **_BOARD_ERRORS,
            },
        }
    },
    "/api/scores/me": {
        "get": {
            "summary": "The caller's score and rank",
            "security": _BEARER,
            "parameters": [_BOARD, _WINDOW],
            "responses": {
                "200": _json(_ref("MyScore"), "my score"),
                **_COMMON_AUTH_ERRORS,
                **_BANNED,
                **_BOARD_ERRORS,
            },
        }
    },
    "/api/me/privacy": {
        "put": {
            "summary": "Be shown by name or as Anonymous on every board and stream (within 2 s)",
            "security": _BEARER,
            "requestBody": _required_body("PrivacyRequest"),
            "responses": {
                "200": _json(_ref("Privacy"), "the choice recorded"),
                **_COMMON_AUTH_ERRORS,
                **_TOO_LARGE,
            },
        }
    },
    "/api/realtime/token": {
        "get": {
            "summary": "A short-lived token for GET /api/realtime/stream?token= (gateway)",
            "description": (
                "The gateway's stream (text/event-stream) carries the Top 10 as state to everyone: "
                "leaderboard_updated {type, board, version, top10}, at most one per interval per "
                "client, always the newest. With ?token= it adds the owner's own user_score_updated "
                "{type, board, userId, newScore, rank}, sent at once; nobody else's."
            ),
            "security": _BEARER,
            "responses": {"200": _json(_ref("RealtimeToken"), "a stream token"), **_COMMON_AUTH_ERRORS},
        }
    },
    "/api/admin/flags": {
        "get": {
            "summary": "The runtime flags (admins)",
            "security": _BEARER,
            "responses": {"200": _json(_ref("Flags"), "the flags as stored"), **_ADMIN_ERRORS},
        },
        "put": {
            "summary": "Change runtime flags (admins): a partial body and a reason; audited",
            "description": (
                "Every process applies the change within 2 s. A flag of the wrong type, an "
                "unknown flag, or a missing, blank or over-long reason is a 400 and changes nothing."
            ),
            "security": _BEARER,
            "requestBody": _required_body("FlagsUpdate"),
            "responses": {
                "200": _json(_ref("Flags"), "the flags after the change"),
                **_ADMIN_ERRORS,
                "413": _error("VALIDATION_ERROR: body over 32 KiB"),
            },
        },
    },
    "/api/admin/audit": {
        "get": {
            "summary": "The audit log, newest first (admins)",
            "security": _BEARER,
            "parameters": [_CURSOR, _ADMIN_LIMIT],
            "responses": {"200": _json(_ref("AuditPage"), "one page"), **_ADMIN_ERRORS},
        }
    },
    "/admin": {
        "get": {
            "summary": 'The admin page (HTML; docs/operations.md "The admin page")',
            "description": (
                "Signs in with a pasted admin token, or by OIDC when configured, and calls "
                "/api/admin/* from the same origin. Its own routes live under /admin/."
            ),
            "responses": {"200": _plain("text/html"), **_INTERNAL},
        }
    },
    "/api/admin/adjustments": {
        **_admin_list("Score adjustments, newest first (admins)", _ADJUSTMENT_STATUSES, "AdjustmentPage"),
        **_admin_post(
            "Propose a score adjustment (admins): pending until another admin approves it",
            "AdjustmentProposal",
            "Adjustment",
            "201",
            description=(
                "Of exactly the board and window named (the current window by default; a past one "
                "within the board's retention). A delta of 0, an unknown user, board or window, or a "
                "missing, blank or over-long reason changes nothing."
            ),
        ),
    },
    "/api/admin/adjustments/{id}/approve": _admin_post(
        "Approve and apply a pending adjustment (another admin than its proposer)",
        "AdminDecision",
        "Adjustment",
        parameters=[_ID],
        description=(
            "Applies it exactly once, as a score event of source admin (never below 0): it reaches "
            "Redis and the streams like an increment, or a past window's final standings. The "
            "proposer gets 403 same_reviewer; an adjustment reviewed already, or whose window is no "
            "longer retained, 409."
        ),
    ),
    "/api/admin/adjustments/{id}/reject": _admin_post(
        "Reject a pending adjustment (any admin, its proposer included)",
        "AdminDecision",
        "Adjustment",
        parameters=[_ID],
    ),
    "/api/admin/users/{id}/ban": _admin_post(
        "Ban a user: gone from every board and stream within 2 s, refused increments and tickets",
        "AdminDecision",
        "UserState",
        parameters=[_ID],
    ),
    "/api/admin/users/{id}/unban": _admin_post(
        "Unban a user: back on every board with their scores within 2 s",
        "AdminDecision",
        "UserState",
        parameters=[_ID],
    ),
    "/api/admin/reviews": {
        **_admin_list(
            "The anomaly detector's reviews, newest first (admins)",
            _REVIEW_STATUSES,
            "ReviewPage",
        )
    },
    "/api/admin/reviews/{id}/clear": _admin_post(
        "Clear an open review: the quarantined user is shown again (and not quarantined again for 24 h)",
        "AdminDecision",
        "Review",
        parameters=[_ID],
    ),
    "/api/admin/reviews/{id}/ban": _admin_post(
        "Ban the user of an open review", "AdminDecision", "Review", parameters=[_ID]
    ),
    "/api/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": _plain("OpenAPI"), **_INTERNAL}}
    },
    "/healthz": {
        "get": {"summary": "Alive", "responses": {"200": _json(_ref("Health"), "alive"), **_INTERNAL}}
    },
    "/readyz": {
        "get": {
            "summary": "Able to serve (needs PostgreSQL)",
            "responses": {
                "200": _json(_ref("Health"), "ready"),
                "503": _json(_ref("Health"), "unready"),
                **_INTERNAL,
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {"200": _plain("Prometheus text format"), **_INTERNAL},
        }
    },
}


def build_document(action_types: Collection[str]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scoreboard API",
            "version": "1",
            # What JSON Schema cannot say: 885.0 is an integer to it, but not to the server.
            "description": "Request bodies are parsed with strict JSON types: an integer field takes an "
            'integer literal (885, not 885.0 or "885"), a string field a string.',
        },
        "paths": PATHS,
        "components": {
            "schemas": RESPONSE_SCHEMAS | request_schemas(action_types),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def endpoint(document: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
    """GET /api/openapi.json, serialised once."""
    body = orjson.dumps(document)

    async def openapi_document(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return openapi_document
