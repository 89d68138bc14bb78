"""Scripts sent in a pipeline (redis_store/scripts): a bare EVALSHA, no SCRIPT EXISTS first, and
a script a restarted Redis forgot is loaded and its command sent again, once. The pipeline here is
the job queue's (a single Redis, also when the boards are on a Cluster)."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.job_queue import Job, JobQueue, apply_score_job
from scoreboard.redis_store.keys import JOB_QUEUE


def _job() -> Job:
    """A job of its own (its id comes from the event id)."""
    state = ScoreState("global", uuid.uuid4(), 3, 1_700_000_000_000_000)
    return apply_score_job(
        [state],
        display_name="Ann",
        is_public=True,
        event_id=uuid.uuid4().int % 2**62,
        committed_us=1,
        traceparent=None,
    )


async def _script_commands(redis: Redis) -> int:
    """How many SCRIPT commands (EXISTS, LOAD, FLUSH...) the server has run so far."""
    stats = await redis.info("commandstats")
    return sum(int(value["calls"]) for name, value in stats.items() if name.split("|")[0] == "cmdstat_script")


async def test_a_pipeline_with_a_script_sends_no_script_exists(queue_redis_url: str) -> None:
    redis = Redis.from_url(queue_redis_url)
    try:
        queue = JobQueue(redis)
        assert await queue.enqueue(_job())
        before = await _script_commands(redis)
        for _ in range(5):
            assert await queue.enqueue(_job())
        assert await _script_commands(redis) == before
    finally:
        await redis.aclose()


async def test_a_forgotten_script_is_loaded_and_its_command_runs_once(queue_redis_url: str) -> None:
    redis = Redis.from_url(queue_redis_url)
    try:
        queue, job = JobQueue(redis), _job()
        await redis.script_flush()  # what a Redis restarted without its script cache looks like
        assert await queue.enqueue(job)
        assert not await queue.enqueue(job)  # it was queued once, not twice
        assert await redis.zcard(JOB_QUEUE) == 1
    finally:
        await redis.aclose()
