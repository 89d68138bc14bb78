"""Worker jobs. The payload is the committed absolute state, never a delta.

Jobs are written in arq's own format (arq.jobs.serialize_job, JSON instead of pickle) by one
small script, so the API can send the enqueue in the same pipeline as its leaderboard write:
arq's enqueue_job spends three round trips (WATCH, EXISTS, MULTI/EXEC) on the same outcome.
A deterministic job id per committed state makes a repeated enqueue a no-op, as in arq.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.keys import JOB_QUEUE, apply_job_id

APPLY_SCORE = "apply_score"
REFRESH_PROFILES = "refresh_profiles"
JOB_EXPIRES_MS = 86_400_000  # arq's default: a job not run within a day is dropped

# KEYS: job key, result key, queue.  ARGV: job id, serialized job, score (ms), expiry (ms).
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
"""


def job_serializer(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def job_deserializer(raw: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(raw)
    return loaded


def apply_score_payload(
    state: ScoreState,
    *,
    display_name: str,
    is_public: bool,
    event_id: int,
    committed_us: int,
    traceparent: str | None,
) -> dict[str, Any]:
    return {
        "board": state.board_id,
        "userId": str(state.user_id),
        "newScore": state.score,
        "reachedAt": state.reached_at_us,
        "eventId": event_id,
        "displayName": display_name,
        "public": is_public,
        "committedAt": committed_us,
        "traceparent": traceparent,
    }


class JobQueue:
    def __init__(self, redis: Redis) -> None:
        self._enqueue = redis.register_script(_ENQUEUE)

    async def queue_apply_score(self, pipe: Pipeline, payload: dict[str, Any]) -> None:
        """Add the enqueue of an apply_score job to a pipeline (it runs when the pipeline does)."""
        job_id = apply_job_id(payload["board"], payload["userId"], payload["newScore"])
        await self.queue(pipe, APPLY_SCORE, payload, job_id)

    async def queue(self, pipe: Pipeline, function: str, payload: dict[str, Any], job_id: str) -> None:
        """Add the enqueue of one job (skipped when that job id is already queued) to a pipeline."""
        now_ms = int(time.time() * 1000)
        job = serialize_job(function, (payload,), {}, None, now_ms, serializer=job_serializer)
        keys = [job_key_prefix + job_id, result_key_prefix + job_id, JOB_QUEUE]
        await self._enqueue(keys=keys, args=[job_id, job, now_ms, JOB_EXPIRES_MS], client=pipe)

    async def enqueue_apply_score(self, redis: Redis, payload: dict[str, Any]) -> bool:
        async with redis.pipeline(transaction=False) as pipe:
            await self.queue_apply_score(pipe, payload)
            (added,) = await pipe.execute()
        return bool(added)
