"""Scripts run by bare EVALSHA: a server that lost its scripts (restarted, a replica promoted by
a failover, SCRIPT FLUSH) gets them again, and a pipelined call runs exactly once."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.job_queue import JobQueue, refresh_profiles_job
from scoreboard.redis_store.keys import BoardKeys
from services.worker.context import WorkerContext
from tests.servers import queue_client


async def test_a_pipelined_call_after_the_scripts_were_flushed_runs_once(worker: WorkerContext) -> None:
    await worker.redis.script_flush()  # every primary of a Cluster
    state = ScoreState("global", uuid.uuid4(), 5, 1_700_000_000_000_000, "all", 1)

    (first,) = await worker.leaderboard.write_through([state], "Ann", True)
    (again,) = await worker.leaderboard.write_through([state], "Ann", True)

    assert first.applied
    assert not again.applied  # the same version: the first call ran, and only once
    assert await worker.redis.zcard(BoardKeys("global").ranking) == 1


async def test_a_direct_call_after_the_scripts_were_flushed_loads_and_runs(worker: WorkerContext) -> None:
    await worker.redis.script_flush()
    state = ScoreState("global", uuid.uuid4(), 5, 1_700_000_000_000_000, "all", 1)
    await worker.leaderboard.write_through([state], "Ann", True)
    await worker.redis.script_flush()

    assert await worker.leaderboard.moderate("global", "all", {str(state.user_id): True}) == 1


async def test_the_queue_loads_its_script_on_its_own_redis(queue_redis_url: str) -> None:
    queue: Redis = queue_client(queue_redis_url)
    try:
        await queue.script_flush()
        assert await JobQueue(queue).enqueue(refresh_profiles_job([uuid.uuid4()])) is True
    finally:
        await queue.aclose()
