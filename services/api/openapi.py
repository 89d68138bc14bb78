"""The OpenAPI document of the API, served at /api/openapi.json and checked by a test."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.errors import ErrorCode
from scoreboard.web.responses import JSONResponse


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


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
_BOARD = {"name": "board", "in": "query", "schema": {"type": "string", "default": "global"}}

_COMMON_AUTH_ERRORS = {
    "400": _error("VALIDATION_ERROR"),
    "401": _error("UNAUTHENTICATED"),
    "429": _error("RATE_LIMITED (Retry-After set)"),
    "503": _error("UNAVAILABLE"),
}

SCHEMAS: dict[str, Any] = {
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
    "ActionRequest": {
        "type": "object",
        "properties": {"type": {"type": "string", "default": "default", "maxLength": 64}},
    },
    "ActionTicket": {
        "type": "object",
        "required": ["actionId", "nonce", "type", "notBefore", "expiresAt"],
        "properties": {
            "actionId": _UUID,
            "nonce": {"type": "string"},
            "type": {"type": "string"},
            "points": {"type": "integer"},
            "notBefore": {"type": "integer", "description": "unix milliseconds"},
            "expiresAt": {"type": "integer", "description": "unix milliseconds"},
        },
    },
    "IncrementRequest": {
        "type": "object",
        "required": ["userId", "actionId", "nonce", "signature"],
        "properties": {
            "userId": _UUID,
            "actionId": _UUID,
            "delta": {"type": "integer", "minimum": 1, "description": "clamped down to the type's points"},
            "nonce": {"type": "string", "maxLength": 512},
            "signature": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "keyId": {"type": "string", "default": "default"},
        },
    },
    "IncrementResult": {
        "type": "object",
        "required": ["userId", "newScore", "rank", "replayed"],
        "properties": {
            "userId": _UUID,
            "newScore": {"type": "integer"},
            "rank": {"type": ["integer", "null"]},
            "replayed": {"type": "boolean"},
            "top10IfChanged": {"type": "array", "items": _ref("RankedEntry")},
        },
    },
    "MyScore": {
        "type": "object",
        "required": ["userId", "score", "rank"],
        "properties": {"userId": _UUID, "score": {"type": "integer"}, "rank": {"type": ["integer", "null"]}},
    },
    "AroundMe": {
        "type": "object",
        "required": ["userId", "score", "rank", "entries"],
        "properties": {
            "userId": _UUID,
            "score": {"type": "integer"},
            "rank": {"type": ["integer", "null"]},
            "entries": {"type": "array", "items": _ref("RankedEntry")},
        },
    },
    "RealtimeToken": {
        "type": "object",
        "required": ["token", "expiresIn"],
        "properties": {"token": {"type": "string"}, "expiresIn": {"type": "integer"}},
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string"}}},
}

PATHS: dict[str, Any] = {
    "/api/actions": {
        "post": {
            "summary": "Take an action ticket (server nonce) before the action starts",
            "security": _BEARER,
            "requestBody": {"content": {"application/json": {"schema": _ref("ActionRequest")}}},
            "responses": {"201": _json(_ref("ActionTicket"), "a ticket"), **_COMMON_AUTH_ERRORS},
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
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("IncrementRequest")}},
            },
            "responses": {
                "200": _json(_ref("IncrementResult"), "committed, or replayed (Idempotent-Replayed: true)"),
                **_COMMON_AUTH_ERRORS,
                "403": _error("UNAUTHORIZED (details.reason says why)"),
                "409": _error("IDEMPOTENCY_CONFLICT or ABUSE_REJECTED"),
                "413": _error("VALIDATION_ERROR: body over 8 KiB"),
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
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("RankedEntry")}, "ranked entries"),
                "304": {"description": "unchanged since the ETag offered"},
                "400": _error("VALIDATION_ERROR"),
                "503": _error("UNAVAILABLE"),
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
            ],
            "responses": {"200": _json(_ref("AroundMe"), "entries around me"), **_COMMON_AUTH_ERRORS},
        }
    },
    "/api/scores/me": {
        "get": {
            "summary": "The caller's score and rank",
            "security": _BEARER,
            "parameters": [_BOARD],
            "responses": {"200": _json(_ref("MyScore"), "my score"), **_COMMON_AUTH_ERRORS},
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
    "/api/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}
    },
    "/healthz": {"get": {"summary": "Alive", "responses": {"200": _json(_ref("Health"), "alive")}}},
    "/readyz": {
        "get": {
            "summary": "Able to serve (needs PostgreSQL)",
            "responses": {"200": _json(_ref("Health"), "ready"), "503": _json(_ref("Health"), "unready")},
        }
    },
    "/metrics": {
        "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text format"}}}
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Scoreboard API", "version": "1"},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    },
}


async def openapi_document(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
