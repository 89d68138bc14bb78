"""A background loop talking to Redis stops whenever it is stopped.

redis-py sends each command through `asyncio.wait_for` when a socket timeout is set (ours always
is), and on Python 3.11 a cancel that lands as a send completes is lost: the gateway once hung on
shutdown for good, its flags loop still running (docs/decisions/0017-cancel-until-stopped.md).
"""

from __future__ import annotations

import asyncio
import random

from scoreboard.background import cancel_and_wait
from scoreboard.config import RedisSettings
from scoreboard.redis_store import flags_mirror
from scoreboard.redis_store.connection import create_redis


async def test_a_loop_reading_redis_stops_at_any_moment(redis_url: str) -> None:
    redis = create_redis(RedisSettings(redis_url=redis_url))

    async def read_forever() -> None:
        while True:
            await flags_mirror.read(redis)

    try:
        for _ in range(100):
            task = asyncio.create_task(read_forever())
            await asyncio.sleep(random.uniform(0, 0.002))
            deadline = asyncio.timeout(5)
            async with deadline:
                await cancel_and_wait(task, recancel_after_s=0.05)
            assert not deadline.expired(), "the loop kept running after it was stopped"
            assert task.cancelled()
    finally:
        await redis.aclose()
