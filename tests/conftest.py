"""Session-wide real servers and per-test isolation (own database, flushed Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.servers import ServerSet, redis_client


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
    for url in {servers.redis_url, servers.queue_redis_url}:
        client = redis_client(url)
        await client.flushdb()  # every primary of a Cluster
        await client.aclose()
    return servers.redis_url


@pytest.fixture
async def queue_redis_url(servers: ServerSet, redis_url: str) -> str:
    """The job queue's Redis (redis_url's own unless the suite runs on a Cluster), flushed."""
    return servers.queue_redis_url
