"""A 500 answers the documented shape on every service: `{"code": "INTERNAL_ERROR", "message",
"details"}` with an `x-request-id` (the client's when it sent a sane one), CORS headers when the
caller is an allowed origin, and nothing of the failure itself (no stack trace, no SQL).

The routes fail for real: a table the code reads is missing (a migration not applied), a key
the worker reads holds the wrong type, the app is served without its lifespan.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scoreboard.redis_store.keys import JOB_QUEUE
from services.api.app import create_app
from services.gateway.app import create_app as create_gateway
from services.worker.context import WorkerContext
from services.worker.health import create_health_app
from services.worker.metrics import WorkerMetrics
from tests.factories import Player, api_settings, gateway_settings
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_reads import closed_port_url

INTERNAL_ERROR = {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}
REQUEST_ID = "client-chosen-id-0001"
ORIGIN = "https://game.example"


def assert_documented_500(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == INTERNAL_ERROR
    for leak in ("Traceback", "relation", "SELECT", "asyncpg", "WRONGTYPE", "scores", "KeyError"):
        assert leak not in response.text


async def drop_table(database_url: str, table: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f"DROP TABLE {table} CASCADE")
    finally:
        await connection.close()


@pytest.fixture
async def api_without_scores(api_factory: ApiClientFactory, database_url: str) -> httpx.AsyncClient:
    """Redis away (reads come from PostgreSQL), and PostgreSQL lacks the scores table."""
    client: httpx.AsyncClient = await api_factory(redis_url=closed_port_url(), cors_origins=[ORIGIN])
    await drop_table(database_url, "scores")
    return client


async def test_a_failing_read_answers_the_documented_500(api_without_scores: httpx.AsyncClient) -> None:
    alice = Player("Alice")
    for path, headers in [
        ("/api/leaderboard/top", {}),
        ("/api/scores/me", alice.headers()),
        ("/api/leaderboard/around/me", alice.headers()),
    ]:
        response = await api_without_scores.get(path, headers=headers | {"x-request-id": REQUEST_ID})
        assert_documented_500(response)
        assert response.headers["x-request-id"] == REQUEST_ID, path


async def test_a_500_carries_a_request_id_and_the_cors_headers(api_without_scores: httpx.AsyncClient) -> None:
    response = await api_without_scores.get("/api/leaderboard/top", headers={"origin": ORIGIN})
    assert_documented_500(response)
    assert len(response.headers["x-request-id"]) >= 8
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_a_failing_increment_answers_the_documented_500(
    api_factory: ApiClientFactory, database_url: str
) -> None:
    api = await api_factory()
    alice = Player("Alice")
    ticket = await alice.ticket(api)
    await drop_table(database_url, "scores")
    headers, body = alice.signed(ticket)
    response = await api.post(
        "/api/scores/increment", json=body, headers=headers | {"x-request-id": REQUEST_ID}
    )
    assert_documented_500(response)
    assert response.headers["x-request-id"] == REQUEST_ID


async def test_a_failing_middleware_still_answers_the_documented_500(
    database_url: str, redis_url: str
) -> None:
    """Served without its lifespan, the API has no context: the first middleware that reads it
    fails, before any request id was given (Starlette's last-resort handler answers)."""
    app = create_app(api_settings(database_url, redis_url))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/api/leaderboard/top", headers={"x-request-id": REQUEST_ID})
        fresh = await client.get("/api/leaderboard/top")
    assert_documented_500(response)
    assert response.headers["x-request-id"] == REQUEST_ID
    assert_documented_500(fresh)
    assert len(fresh.headers["x-request-id"]) >= 8


@pytest.fixture
async def worker_health(worker: WorkerContext, queue: Redis) -> httpx.AsyncClient:
    app = create_health_app(worker.pool, worker.redis, WorkerMetrics(), queue=queue)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker.test")


async def test_the_worker_health_app_answers_the_documented_500(
    worker_health: httpx.AsyncClient, queue: Redis
) -> None:
    try:
        await queue.set(JOB_QUEUE, "not a sorted set")  # /metrics reads the queue's depth from it
        response = await worker_health.get("/metrics", headers={"x-request-id": REQUEST_ID})
    finally:
        await queue.delete(JOB_QUEUE)
        await worker_health.aclose()
    assert_documented_500(response)
    assert response.headers["x-request-id"] == REQUEST_ID


async def test_the_worker_health_app_answers_the_documented_404(worker_health: httpx.AsyncClient) -> None:
    async with worker_health:
        response = await worker_health.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert "x-request-id" in response.headers


async def test_the_gateway_answers_the_documented_500(redis_url: str) -> None:
    """The gateway's own probes catch every failure, so a failing route is added to the real app
    (its middleware and handlers unchanged); the stream route answers for itself (stream.py)."""

    async def failing(request: Request) -> Response:
        raise RuntimeError("SELECT secret FROM scores")

    gateway = create_gateway(gateway_settings(redis_url, cors_origins=[ORIGIN]))
    gateway.app.router.routes.append(Route("/failing", failing))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gw.test"
    ) as client:
        response = await client.get("/failing", headers={"x-request-id": REQUEST_ID, "origin": ORIGIN})
    assert_documented_500(response)
    assert response.headers["x-request-id"] == REQUEST_ID
    assert response.headers["access-control-allow-origin"] == ORIGIN
