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


def _plain(description: str) -> dict[str, Any]:
    return {"description": description, "headers": _REQUEST_ID}


_UUID = {"type": "string", "format": "uuid"}
_RANKED = {
    "type": "object",
    "required": ["userId", "displayName", "score", "rank"],
    "properties": {
        "userId": {"type": ["string", "null"], "format": "uuid", "description": "null for private users"},
        "displayName": {"type": "string"},
        "score": {"type": "integer", "minimum": 0},
        "rank": {"type": "integer", "minimum": 1},
    },
}
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
    return {
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "nextCursor": {"type": ["string", "null"], "description": "null on the last page"},
        },
    }


def _status(values: list[str]) -> dict[str, Any]:
    return {
        "name": "status",
        "in": "query",
        "description": "only those in this status (default: every status)",
        "schema": {"type": "string", "enum": values},
    }


def _admin_post(summary: str, body: str, answer: str, status: str = "200", **extra: Any) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _BEARER,
            **extra,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
            "responses": {status: _json(_ref(answer), "done, audited"), **_ADMIN_WRITE_ERRORS},
        }
    }


RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "RankedEntry": _RANKED,
    "ActionTicket": {
        "type": "object",
        "required": ["actionId", "nonce", "type", "points", "notBefore", "expiresAt"],
        "properties": {
            "actionId": _UUID,
            "nonce": {"type": "string"},
            "type": {"type": "string"},
            "points": {"type": "integer", "minimum": 1},
            "notBefore": {"type": "integer", "description": "unix milliseconds"},
            "expiresAt": {"type": "integer", "description": "unix milliseconds"},
        },
    },
    "IncrementResult": {
        "type": "object",
        "required": ["userId", "newScore", "rank", "replayed", "boards"],
        "properties": {
            "userId": _UUID,
            "newScore": {"type": "integer", "minimum": 0, "description": "on the main board"},
            "rank": {"type": ["integer", "null"], "minimum": 1, "description": "on the main board"},
            "replayed": {"type": "boolean"},
            "boards": {
                "type": "object",
                "description": "every board that counted the increment",
                "additionalProperties": {
                    "type": "object",
                    "required": ["window", "newScore", "rank"],
                    "properties": {
                        "window": {"type": "string"},
                        "newScore": {"type": "integer", "minimum": 0},
                        "rank": {"type": ["integer", "null"], "minimum": 1},
                    },
                },
            },
            "top10IfChanged": {"type": "array", "items": _ref("RankedEntry")},
        },
    },
    "MyScore": {
        "type": "object",
        "required": ["userId", "board", "window", "score", "rank"],
        "properties": {
            "userId": _UUID,
            "board": {"type": "string"},
            "window": {"type": "string"},
            "score": {"type": "integer", "minimum": 0},
            "rank": {"type": ["integer", "null"], "minimum": 1},
        },
    },
    "AroundMe": {
        "type": "object",
        "required": ["userId", "board", "window", "score", "rank", "entries"],
        "properties": {
            "userId": _UUID,
            "board": {"type": "string"},
            "window": {"type": "string"},
            "score": {"type": "integer", "minimum": 0},
            "rank": {"type": ["integer", "null"], "minimum": 1},
            "entries": {"type": "array", "items": _ref("RankedEntry")},
        },
    },
    "RealtimeToken": {
        "type": "object",
        "required": ["token", "expiresIn"],
        "properties": {"token": {"type": "string"}, "expiresIn": {"type": "integer", "minimum": 1}},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "Board": {
        "type": "object",
        "required": ["id", "title", "types", "ranks", "retain", "window", "next"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "types": {"type": "array", "items": {"type": "string"}},
            "ranks": {"type": "string", "enum": ["unique", "shared"]},
            "retain": {"type": "integer", "minimum": 0},
            "window": {
                "type": "object",
                "required": ["id", "start", "end"],
                "properties": {
                    "id": {"type": "string"},
                    "start": {"type": ["integer", "null"], "description": "unix ms"},
                    "end": {"type": ["integer", "null"], "description": "unix ms, exclusive"},
                },
            },
            "next": {"type": ["integer", "null"], "description": "the next reset, unix ms"},
        },
    },
    "Privacy": {
        "type": "object",
        "required": ["userId", "public"],
        "properties": {
            "userId": _UUID,
            "public": {"type": "boolean", "description": "false: shown as Anonymous"},
        },
    },
    "Flags": {
        "type": "object",
        "required": [
            "increments",
            "realtime",
            "rate_limit_user_per_min",
            "rate_limit_ip_per_min",
            "version",
        ],
        "properties": {
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
        },
    },
    "AuditRow": {
        "type": "object",
        "required": ["id", "at", "actor", "action", "target", "before", "after", "reason", "requestId"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string", "description": "the admin's user id, or a system actor"},
            "action": {"type": "string"},
            "target": {"type": ["string", "null"]},
            "before": {"type": ["object", "null"]},
            "after": {"type": ["object", "null"]},
            "reason": {"type": "string"},
            "requestId": {"type": ["string", "null"]},
        },
    },
    "AuditPage": _page("AuditRow"),
    "Adjustment": {
        "type": "object",
        "required": [
            "id",
            "status",
            "userId",
            "board",
            "window",
            "delta",
            "reason",
            "proposedBy",
            "proposedAt",
            "reviewedBy",
            "reviewedAt",
            "reviewReason",
            "appliedDelta",
            "scoreAfter",
        ],
        "properties": {
            "id": _UUID,
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "userId": _UUID,
            "board": {"type": "string"},
            "window": {"type": "string", "description": "the window it applies to (resolved when proposed)"},
            "delta": {"type": "integer", "description": "as proposed"},
            "reason": {"type": "string"},
            "proposedBy": {"type": "string"},
            "proposedAt": {"type": "string", "format": "date-time"},
            "reviewedBy": {"type": ["string", "null"]},
            "reviewedAt": {"type": ["string", "null"], "format": "date-time"},
            "reviewReason": {"type": ["string", "null"]},
            "appliedDelta": {
                "type": ["integer", "null"],
                "description": "what the approval really changed (a score never goes below 0)",
            },
            "scoreAfter": {"type": ["integer", "null"], "minimum": 0},
        },
    },
    "AdjustmentPage": _page("Adjustment"),
    "Review": {
        "type": "object",
        "required": [
            "id",
            "status",
            "userId",
            "displayName",
            "rule",
            "observed",
            "openedAt",
            "closedBy",
            "closedAt",
            "closeReason",
        ],
        "properties": {
            "id": _UUID,
            "status": {"type": "string", "enum": ["open", "cleared", "banned"]},
            "userId": _UUID,
            "displayName": {"type": "string"},
            "rule": {"type": "string", "description": "the anomaly rule that fired, e.g. overall.per_minute"},
            "observed": {"type": "object", "description": "what the detector saw: points, limit, window"},
            "openedAt": {"type": "string", "format": "date-time"},
            "closedBy": {"type": ["string", "null"]},
            "closedAt": {"type": ["string", "null"], "format": "date-time"},
            "closeReason": {"type": ["string", "null"]},
        },
    },
    "ReviewPage": _page("Review"),
    "UserState": {
        "type": "object",
        "required": ["userId", "state"],
        "properties": {
            "userId": _UUID,
            "state": {"type": "string", "enum": ["visible", "quarantined", "banned"]},
        },
    },
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
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("IncrementRequest")}},
            },
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
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PrivacyRequest")}},
            },
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
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("FlagsUpdate")}},
            },
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
            "parameters": [
                {
                    "name": "cursor",
                    "in": "query",
                    "description": "opaque: the nextCursor of the previous page",
                    "schema": {"type": "string"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
            ],
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
        "get": {
            "summary": "Score adjustments, newest first (admins)",
            "security": _BEARER,
            "parameters": [_status(["pending", "approved", "rejected"]), _CURSOR, _ADMIN_LIMIT],
            "responses": {"200": _json(_ref("AdjustmentPage"), "one page"), **_ADMIN_ERRORS},
        },
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
        "get": {
            "summary": "The anomaly detector's reviews, newest first (admins)",
            "security": _BEARER,
            "parameters": [_status(["open", "cleared", "banned"]), _CURSOR, _ADMIN_LIMIT],
            "responses": {"200": _json(_ref("ReviewPage"), "one page"), **_ADMIN_ERRORS},
        }
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
