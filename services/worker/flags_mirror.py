"""The worker's runtime flags: read from PostgreSQL, and copied to their Redis mirror on the way.

The API writes the mirror right after a change; this is the repair path (ARCHITECTURE.md: Operators):
each refresh, when the copy is older than PostgreSQL's state or missing (Redis was away during
the change, or restarted empty), the worker writes it, so the gateway converges within a
refresh of Redis coming back, whoever changed the flags and however.
"""

from __future__ import annotations

import logging

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from scoreboard.db import flags as stored_flags
from scoreboard.domain.flags import StoredFlags
from scoreboard.flags.runtime import Source
from scoreboard.redis_store import flags_mirror
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN

log = logging.getLogger("scoreboard.worker.flags")
# Any Redis trouble: the copy waits for Redis to be itself again; the flags themselves do not.
MIRROR_ERRORS: tuple[type[BaseException], ...] = (*REDIS_DOWN, RedisError)


def mirroring_source(pool: asyncpg.Pool, redis: Redis) -> Source:
    async def read_and_mirror() -> StoredFlags:
        stored = await stored_flags.read(pool)
        try:
            if await flags_mirror.publish(redis, stored):
                log.info("runtime flags copied to Redis", extra={"version": stored.version})
        except MIRROR_ERRORS as error:
            log.debug("runtime flags not copied to Redis", extra={"error": type(error).__name__})
        return stored

    return read_and_mirror
