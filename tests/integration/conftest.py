"""The API in process (ASGI, lifespan run), and the worker's job context, on real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from scoreboard.telemetry import tracing
from services.api.app import create_app
from services.api.context import ApiContext
from services.worker.context import WorkerContext
from services.worker.main import build_context
from services.worker.metrics import WorkerMetrics
from tests.factories import api_settings, worker_settings
from tests.servers import queue_client

ApiClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]
WorkerFactory = Callable[..., Awaitable[WorkerContext]]

# The lifespan's context of each API client made by api_factory (for tests that look inside).
contexts: dict[httpx.AsyncClient, ApiContext] = {}


@pytest.fixture
async def api_factory(database_url: str, redis_url: str) -> AsyncIterator[ApiClientFactory]:
    """Build API clients with setting overrides; each is closed at the end of the test."""
    managers: list[LifespanManager] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(
            api_settings(
                overrides.pop("database_url", database_url),
                overrides.pop("redis_url", redis_url),
                **overrides,
            )
        )
        manager = LifespanManager(app)
        await manager.__aenter__()
        managers.append(manager)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://api.test")
        clients.append(client)
        contexts[client] = manager._state["context"]
        return client

    yield make
    for client in clients:
        contexts.pop(client, None)
        await client.aclose()
    for manager in reversed(managers):
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def api(api_factory: ApiClientFactory) -> httpx.AsyncClient:
    return await api_factory()


@pytest.fixture
async def worker_factory(database_url: str, redis_url: str) -> AsyncIterator[WorkerFactory]:
    """Build worker job contexts with setting overrides; each is closed, as the worker closes its
    own, at the end of the test."""
    made: list[WorkerContext] = []

    async def make(**overrides: Any) -> WorkerContext:
        settings = worker_settings(
            overrides.pop("database_url", database_url), overrides.pop("redis_url", redis_url), **overrides
        )
        context = build_context(settings, WorkerMetrics())
        await context.pool
        made.append(context)
        return context

    yield make
    for context in reversed(made):
        await context.publisher.stop()
        await context.redis.aclose()
        await context.pool.close()


@pytest.fixture
async def worker(worker_factory: WorkerFactory) -> WorkerContext:
    """The worker's job context, to run jobs and the reconciler directly."""
    return await worker_factory()


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Every span the module's tests make, kept in memory (tracing installed if it is not yet)."""
    memory = InMemorySpanExporter()
    if not tracing.enabled():
        tracing.install(TracerProvider())
    provider = tracing.trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()


@pytest.fixture
async def queue(queue_redis_url: str) -> AsyncIterator[ArqRedis]:
    """The job queue's Redis, as the API and the worker reach it (JSON jobs); closed afterwards."""
    client = queue_client(queue_redis_url)
    yield client
    await client.aclose()
