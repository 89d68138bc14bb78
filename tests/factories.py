"""Test data builders: settings, tokens, players that take tickets and sign increments."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.client import build_increment_request
from services.api.settings import ApiSettings
from services.gateway.settings import GatewaySettings
from services.worker.settings import WorkerProcessSettings

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789abcdef"
TICKET_SECRET = "test-ticket-secret-0123456789abcdef0123456789"
SIGNING_KEYS = {
    "default": "test-signing-key-default-0123456789abcdef",
    "rotated": "test-signing-key-rotated-0123456789",
}
ACTION_TYPES = {
    "default": {"points": 1},
    "quiz": {"points": 10, "min_seconds": 0, "ttl_seconds": 600},
    "marathon": {"points": 50, "min_seconds": 30, "ttl_seconds": 3600},
}


def api_settings(database_url: str, redis_url: str, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "jwt_secret": JWT_SECRET,
        "ticket_secret": TICKET_SECRET,
        "signing_keys": SIGNING_KEYS,
        "action_types": ACTION_TYPES,
        "trusted_proxies": ["127.0.0.1/32"],
        "top_cache_ms": 0,
    }
    values.update(overrides)
    return ApiSettings(**values)


def worker_settings(database_url: str, redis_url: str, **overrides: Any) -> WorkerProcessSettings:
    values: dict[str, Any] = {"database_url": database_url, "redis_url": redis_url, "worker_port": 0}
    values.update(overrides)
    return WorkerProcessSettings(**values)


def gateway_settings(redis_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"redis_url": redis_url, "ticket_secret": TICKET_SECRET}
    values.update(overrides)
    return GatewaySettings(**values)


def service_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The SCOREBOARD_ variables a real process needs, for tests that start one."""
    return {
        "SCOREBOARD_DATABASE_URL": database_url,
        "SCOREBOARD_REDIS_URL": redis_url,
        "SCOREBOARD_JWT_SECRET": JWT_SECRET,
        "SCOREBOARD_TICKET_SECRET": TICKET_SECRET,
        "SCOREBOARD_SIGNING_KEYS": json.dumps(SIGNING_KEYS),
        "SCOREBOARD_ACTION_TYPES": json.dumps(ACTION_TYPES),
    }


def token(user_id: uuid.UUID, name: str = "Alice", ttl_s: int = 300, *, admin: bool = False) -> str:
    return mint_dev_token(JWT_SECRET, user_id=user_id, name=name, ttl_s=ttl_s, admin=admin)


@dataclass
class Player:
    """A user who plays actions through the public API, as a trusted backend would."""

    name: str = "Alice"
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)
    ip: str | None = None
    admin: bool = False  # the token carries scoreboard:admin (ARCHITECTURE.md: Operators)

    @property
    def token(self) -> str:
        return token(self.user_id, self.name, admin=self.admin)

    def headers(self) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token}"}
        if self.ip:
            headers["x-forwarded-for"] = self.ip
        return headers

    async def ticket(self, client: httpx.AsyncClient, action_type: str = "default") -> dict[str, Any]:
        response = await client.post("/api/actions", json={"type": action_type}, headers=self.headers())
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    def signed(
        self,
        ticket: dict[str, Any],
        *,
        delta: int | None = None,
        key_id: str = "default",
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], dict[str, Any]]:
        request = build_increment_request(
            token=self.token,
            signing_key=SIGNING_KEYS[key_id],
            key_id=key_id,
            user_id=str(self.user_id),
            action_id=ticket["actionId"],
            nonce=ticket["nonce"],
            delta=delta,
            timestamp=timestamp if timestamp is not None else int(time.time()),
        )
        headers = dict(request.headers)
        if self.ip:
            headers["x-forwarded-for"] = self.ip
        return headers, request.body

    async def play(
        self, client: httpx.AsyncClient, action_type: str = "default", **sign_options: Any
    ) -> httpx.Response:
        ticket = await self.ticket(client, action_type)
        headers, body = self.signed(ticket, **sign_options)
        return await client.post("/api/scores/increment", json=body, headers=headers)
