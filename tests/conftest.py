"""Session-wide real servers and per-test isolation (own database, flushed Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.servers import ServerSet


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    started = ServerSet.start(tmp_path_factory.mktemp("servers"))
    yield started
    started.stop()


@pytest.fixture
async def database_url(servers: ServerSet) -> AsyncIterator[str]:
    url = await servers.create_database()
    yield url
    await servers.drop_database(url)


@pytest.fixture
async def redis_url(servers: ServerSet) -> str:
    client = Redis.from_url(servers.redis_url)
    await client.flushdb()
    await client.aclose()
    return servers.redis_url
