"""Redis clients. Connecting is lazy, so a process starts while Redis is still down."""

from __future__ import annotations

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from scoreboard.config import RedisSettings
from scoreboard.redis_store.errors import UNAVAILABLE_ERRORS, ErrorReplies
from scoreboard.redis_store.job_queue import job_deserializer, job_serializer
from scoreboard.redis_store.packing import packed_by_hiredis

__all__ = ["UNAVAILABLE_ERRORS", "create_redis", "is_reachable"]


def create_redis(
    settings: RedisSettings, *, max_connections: int = 64, read_timeout_s: float | None = None
) -> ArqRedis:
    """One pool per process; ArqRedis is a redis.asyncio.Redis that can also enqueue jobs.

    A client for blocking reads (XREAD BLOCK) needs a read timeout longer than its block time.
    """
    pool = ConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=read_timeout_s or settings.redis_timeout_s,
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


async def is_reachable(redis: ArqRedis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # any failure at all means "not ready"
        return False
