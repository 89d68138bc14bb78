"""The arq contract: jobs the API writes itself are the jobs arq's own enqueue_job writes, and arq's
worker runs them. These fail when an arq upgrade changes its job format, keys or expiry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.worker import Worker, func

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.job_queue import (
    APPLY_SCORE,
    JOB_EXPIRES_MS,
    Job,
    JobQueue,
    apply_score_job,
    job_deserializer,
    refresh_profiles_job,
)
from scoreboard.redis_store.keys import JOB_QUEUE


def _job(score: int = 7) -> Job:
    state = ScoreState("global", uuid.uuid4(), score, 1_700_000_000_000_000)
    return apply_score_job(
        [state], display_name="Ann", is_public=True, event_id=score, committed_us=1, traceparent=None
    )


async def _stored(redis: ArqRedis, job_id: str) -> tuple[dict[str, Any], int, float | None]:
    """What a queued job is in Redis: its decoded record, its TTL (ms) and its queue score."""
    raw = await redis.get(job_key_prefix + job_id)
    assert raw is not None
    return (
        job_deserializer(raw),
        await redis.pttl(job_key_prefix + job_id),
        await redis.zscore(JOB_QUEUE, job_id),
    )


async def test_an_enqueued_state_is_one_arq_job_however_often_it_is_sent(queue: ArqRedis) -> None:
    job = _job()
    jobs = JobQueue(queue)

    assert await jobs.enqueue(job) is True
    assert await jobs.enqueue(job) is False

    (queued,) = await queue.queued_jobs(queue_name=JOB_QUEUE)
    assert queued.function == APPLY_SCORE
    assert list(queued.args) == [job.payload]
    assert queued.job_id == f"apply:{job.payload['eventId']}"


async def test_the_adapter_writes_what_arq_enqueue_job_writes(queue: ArqRedis) -> None:
    ours, theirs = _job(1), _job(2)
    await JobQueue(queue).enqueue(ours)
    assert await queue.enqueue_job(
        theirs.function, theirs.payload, _job_id=theirs.job_id, _queue_name=JOB_QUEUE
    )

    our_record, our_ttl, our_score = await _stored(queue, ours.job_id)
    their_record, their_ttl, their_score = await _stored(queue, theirs.job_id)
    assert our_record.keys() == their_record.keys()
    assert {**our_record, "a": None, "et": None} == {**their_record, "a": None, "et": None}
    assert our_record["a"] == [ours.payload]
    assert their_record["a"] == [theirs.payload]
    assert our_score is not None
    assert their_score is not None
    assert abs(our_record["et"] - their_record["et"]) < 5_000
    assert abs(our_score - our_record["et"]) < 5_000  # due now, scored in ms like arq's
    assert abs(our_ttl - their_ttl) < 5_000
    assert JOB_EXPIRES_MS - 5_000 < our_ttl <= JOB_EXPIRES_MS


async def test_a_job_with_a_result_is_not_enqueued_again_as_in_arq(queue: ArqRedis) -> None:
    job = _job()
    await queue.set(result_key_prefix + job.job_id, b"done")

    assert await JobQueue(queue).enqueue(job) is False
    assert await queue.enqueue_job(job.function, job.payload, _job_id=job.job_id) is None


@pytest.mark.timeout(30)
async def test_arq_worker_runs_the_jobs_the_adapter_wrote(queue: ArqRedis, queue_redis_url: str) -> None:
    ran: list[tuple[str, Any]] = []

    async def apply_score(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        ran.append((APPLY_SCORE, payload))

    async def refresh_profiles(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        ran.append(("refresh_profiles", payload))

    first, second = _job(), refresh_profiles_job([uuid.uuid4()])
    jobs = JobQueue(queue)
    await jobs.enqueue(first)
    await jobs.enqueue(second)
    own = ArqRedis.from_url(queue_redis_url)
    functions = [func(apply_score, name=APPLY_SCORE), func(refresh_profiles, name="refresh_profiles")]
    reading = {"queue_name": JOB_QUEUE, "job_deserializer": job_deserializer}  # as services/worker/main.py
    arq_worker = Worker(
        functions, redis_pool=own, burst=True, poll_delay=0.01, handle_signals=False, **reading
    )
    try:
        await arq_worker.main()  # burst: returns once the queue is empty
    finally:
        await own.aclose()

    assert sorted(ran, key=lambda call: call[0]) == [
        (APPLY_SCORE, first.payload),
        ("refresh_profiles", second.payload),
    ]
    assert arq_worker.jobs_complete == 2
    assert arq_worker.jobs_failed == 0
