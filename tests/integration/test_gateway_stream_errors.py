"""The stream endpoint's refusals and failures, in process: audit lines carry the client's masked
address (X-Forwarded-For only from a trusted proxy), and an unhandled error is a 500 with the
error body and a request id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from devstack.net import free_port
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.web.request_context import HttpPolicy
from services.gateway.broadcaster import Broadcaster
from services.gateway.metrics import GatewayMetrics
from services.gateway.state_interval import StateInterval
from services.gateway.stream import PATH, StreamEndpoint
from tests.factories import TICKET_SECRET, gateway_settings


def endpoint(redis: Redis, **overrides: object) -> tuple[StreamEndpoint, Broadcaster]:
    settings = gateway_settings("redis://127.0.0.1:1/0", **overrides)
    metrics = GatewayMetrics()
    broadcaster = Broadcaster(redis, redis, metrics, StateInterval(0.25, 4.0, metrics.sse_state_interval))
    tokens = RealtimeTokens(TICKET_SECRET, 60)
    policy = HttpPolicy(metrics, settings.access_log, cors=None)
    return StreamEndpoint(settings, broadcaster, tokens, metrics, policy), broadcaster


@pytest.fixture
async def gone_redis() -> AsyncIterator[Redis]:
    """A Redis client whose server is not there (it went away after the reader's last read)."""
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    yield client
    await client.aclose()


def client_for(app: StreamEndpoint, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")


def rejections(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "scoreboard.audit" and r.getMessage() == "rejected"]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "logged"),
    [
        (["10.0.0.0/8"], "10.1.2.3", "198.51.100.23", "198.51.100.0/24"),  # through our proxy
        ([], "10.1.2.3", "198.51.100.23", "10.1.2.0/24"),  # nobody's proxy: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.23", "203.0.113.0/24"),  # not from our proxy
    ],
)
async def test_a_refused_stream_is_audited_with_the_clients_masked_address(
    gone_redis: Redis,
    caplog: pytest.LogCaptureFixture,
    trusted: list[str],
    peer: str,
    forwarded: str,
    logged: str,
) -> None:
    app, _ = endpoint(gone_redis, trusted_proxies=trusted)
    with caplog.at_level(logging.INFO, logger="scoreboard.audit"):
        async with client_for(app, peer) as client:
            response = await client.get(
                PATH, params={"token": "not-a-token"}, headers={"x-forwarded-for": forwarded}
            )
    assert response.status_code == 401
    (line,) = rejections(caplog)
    assert line.__dict__["code"] == "UNAUTHENTICATED"
    assert line.__dict__["ip"] == logged
    assert forwarded not in caplog.text
    assert peer not in caplog.text


async def test_an_unhandled_error_on_the_stream_is_a_500_with_the_error_body_and_a_request_id(
    gone_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app, broadcaster = endpoint(gone_redis)
    broadcaster.healthy = True  # the reader's last read worked; Redis is gone since
    token = RealtimeTokens(TICKET_SECRET, 60).issue(uuid.uuid4())
    with caplog.at_level(logging.ERROR, logger="scoreboard.api"):
        async with client_for(app, "127.0.0.1") as client:
            # A resume reads the owner's missed events from Redis: that read fails.
            response = await client.get(PATH, params={"token": token}, headers={"last-event-id": "1-0"})
    assert response.status_code == 500
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}
    assert response.headers["x-request-id"]
    assert "Traceback" not in response.text
    assert any(r.getMessage() == "unhandled error" for r in caplog.records)
    assert broadcaster.subscribers == set()  # the half-opened subscription was undone
