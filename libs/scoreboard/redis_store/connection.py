"""Redis clients, one per role (ARCHITECTURE.md: Redis roles). Connecting is lazy, so a process
starts while Redis is still down."""

from __future__ import annotations

from typing import cast

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis

from scoreboard.config import QueueRedisSettings, RedisSettings
from scoreboard.redis_store.cluster import StoreCluster
from scoreboard.redis_store.errors import UNAVAILABLE_ERRORS, ErrorReplies
from scoreboard.redis_store.job_queue import job_deserializer, job_serializer
from scoreboard.redis_store.packing import packed_by_hiredis

__all__ = ["UNAVAILABLE_ERRORS", "create_queue_redis", "create_redis", "is_reachable"]


def create_redis(
    settings: RedisSettings, *, max_connections: int = 64, read_timeout_s: float | None = None
) -> Redis:
    """The boards' Redis (boards, the stream, limits), one pool per process: a single Redis, or
    a Redis Cluster (redis_store/cluster.py). On a single Redis it is an ArqRedis, which can also
    serve as the queue's client (create_queue_redis).

    A client for blocking reads (XREAD BLOCK) needs a read timeout longer than its block time.
    """
    timeout_s = read_timeout_s or settings.redis_timeout_s
    if settings.store_is_cluster:
        cluster = StoreCluster.from_url(
            settings.store_url(),
            socket_timeout=timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            health_check_interval=30,
            max_connections=max_connections,  # per node
            decode_responses=False,
        )
        # The Cluster answers every command this library sends (the test suite runs against one:
        # tests/servers.py); one annotation serves both clients.
        return cast(Redis, cluster)
    return _single(settings.store_url(), settings, timeout_s, max_connections)


def create_queue_redis(settings: QueueRedisSettings, *, store: Redis, max_connections: int = 16) -> ArqRedis:
    """The job queue's client: `store` itself when the queue shares its server (one pool, and the
    API's write-through and its job go in one round trip), else its own single primary."""
    if settings.queue_redis_url is None and isinstance(store, ArqRedis):
        return store
    return _single(settings.queue_url(), settings, settings.redis_timeout_s, max_connections)


def _single(url: str, settings: RedisSettings, timeout_s: float, max_connections: int) -> ArqRedis:
    pool = ConnectionPool.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        max_connections=max_connections,
        decode_responses=False,
        # Error replies typed by what they mean: a full or read-only Redis is an unavailable one.
        parser_class=ErrorReplies,
    )
    pool.connection_class = packed_by_hiredis(pool.connection_class)  # whichever the URL's scheme chose
    # Jobs are JSON (not arq's default pickle): the API writes them itself (redis_store/job_queue.py).
    return ArqRedis(connection_pool=pool, job_serializer=job_serializer, job_deserializer=job_deserializer)


async def is_reachable(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # any failure at all means "not ready"
        return False
