"""Jobs the API writes itself are arq jobs: arq reads them, and a repeated enqueue is a no-op."""

from __future__ import annotations

import uuid

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.jobs import APPLY_SCORE, JobQueue, apply_score_payload
from scoreboard.redis_store.keys import JOB_QUEUE
from services.worker.context import WorkerContext


async def test_an_enqueued_state_is_one_arq_job_however_often_it_is_sent(worker: WorkerContext) -> None:
    state = ScoreState("global", uuid.uuid4(), 7, 1_700_000_000_000_000)
    payload = apply_score_payload(
        state, display_name="Ann", is_public=True, event_id=1, committed_us=1, traceparent=None
    )
    queue = JobQueue(worker.redis)

    assert await queue.enqueue_apply_score(worker.redis, payload) is True
    assert await queue.enqueue_apply_score(worker.redis, payload) is False

    (job,) = await worker.redis.queued_jobs(queue_name=JOB_QUEUE)
    assert job.function == APPLY_SCORE
    assert job.args == (payload,) or list(job.args) == [payload]
    assert job.job_id == f"apply:global:{state.user_id}:7"
