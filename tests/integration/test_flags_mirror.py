"""The gateway's copy of the runtime flags in Redis converges to PostgreSQL: written by the API
at once, repaired by the worker when Redis missed it, never rolled back to an older version."""

from __future__ import annotations

from redis.asyncio import Redis

from scoreboard.domain.flags import RuntimeFlags, StoredFlags
from scoreboard.redis_store import flags_mirror
from scoreboard.redis_store.keys import RUNTIME_FLAGS
from services.worker.context import WorkerContext
from services.worker.flags_mirror import mirroring_source
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_runtime_flags import put_flags
from tests.integration.test_write_security import redis_down_url
from tests.servers import redis_client


async def test_the_worker_repairs_a_copy_redis_missed(
    api_factory: ApiClientFactory, worker: WorkerContext
) -> None:
    source = mirroring_source(worker.pool, worker.redis)
    assert await source() == StoredFlags(RuntimeFlags(), 1)
    assert await flags_mirror.read(worker.redis) == StoredFlags(RuntimeFlags(), 1)

    api_without_redis = await api_factory(redis_url=redis_down_url())
    after = await put_flags(api_without_redis, realtime=False)  # commits; the copy is not written
    assert await flags_mirror.read(worker.redis) == StoredFlags(RuntimeFlags(), 1)

    assert (await source()).version == after["version"]
    assert await flags_mirror.read(worker.redis) == StoredFlags(
        RuntimeFlags(realtime=False), after["version"]
    )


async def test_a_redis_restarted_empty_gets_its_copy_back(worker: WorkerContext) -> None:
    source = mirroring_source(worker.pool, worker.redis)
    await source()
    await worker.redis.flushdb()
    assert await flags_mirror.read(worker.redis) is None
    await source()
    assert await flags_mirror.read(worker.redis) == StoredFlags(RuntimeFlags(), 1)


async def test_a_damaged_copy_is_replaced(worker: WorkerContext) -> None:
    await worker.redis.set(RUNTIME_FLAGS, b"not json")
    await mirroring_source(worker.pool, worker.redis)()
    assert await flags_mirror.read(worker.redis) == StoredFlags(RuntimeFlags(), 1)


async def test_the_worker_reads_postgresql_even_when_the_copy_cannot_be_written(
    worker: WorkerContext,
) -> None:
    gone = Redis.from_url(redis_down_url(), socket_connect_timeout=0.5)
    try:
        assert await mirroring_source(worker.pool, gone)() == StoredFlags(RuntimeFlags(), 1)
    finally:
        await gone.aclose()


async def test_a_write_never_replaces_a_newer_version(redis_url: str) -> None:
    redis = redis_client(redis_url)
    try:
        newer = StoredFlags(RuntimeFlags(increments=False), 5)
        assert await flags_mirror.publish(redis, newer)
        assert not await flags_mirror.publish(redis, StoredFlags(RuntimeFlags(), 4))
        assert not await flags_mirror.publish(redis, StoredFlags(RuntimeFlags(), 5))
        assert await flags_mirror.read(redis) == newer
        newest = StoredFlags(RuntimeFlags(rate_limit_ip_per_min=3), 6)
        assert await flags_mirror.publish(redis, newest)
        assert await flags_mirror.read(redis) == newest
    finally:
        await redis.aclose()
