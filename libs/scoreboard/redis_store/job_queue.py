"""arq's job format, in one adapter: the API writes worker jobs itself, arq's worker runs them.

arq's `enqueue_job` spends three round trips (WATCH, EXISTS, MULTI/EXEC) on one job; the API
sends its job in the same pipeline as its leaderboard write instead, through one small script
(scripts/enqueue_job.lua) that does what enqueue_job does. That leans on arq internals: the job
encoding (`arq.jobs.serialize_job`, here JSON instead of pickle), the job and result key
prefixes, the queue as a ZSET scored by the time to run, and the default expiry. arq is pinned
to a tested minor (pyproject.toml) and tests/integration/test_job_queue.py compares what this
writes with what arq's own enqueue_job writes, so an arq upgrade that changes any of it fails.

The payload is the committed absolute state, never a delta. A deterministic job id per committed
state makes a repeated enqueue a no-op, as in arq.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import orjson
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.keys import JOB_QUEUE, apply_job_id
from scoreboard.redis_store.scripts import Scripts, execute

APPLY_SCORE = "apply_score"
REFRESH_PROFILES = "refresh_profiles"
MODERATE_USERS = "moderate_users"
JOB_EXPIRES_MS = expires_extra_ms  # arq's default: a job not run within a day is dropped


def job_serializer(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def job_deserializer(raw: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(raw)
    return loaded


@dataclass(frozen=True, slots=True)
class Job:
    """One call of a worker function with one JSON payload, under an id that deduplicates it."""

    function: str
    payload: dict[str, Any]
    job_id: str

    def encode(self, enqueued_ms: int) -> bytes:
        return serialize_job(self.function, (self.payload,), {}, None, enqueued_ms, serializer=job_serializer)


def apply_score_job(
    states: Sequence[ScoreState],
    *,
    display_name: str,
    is_public: bool,
    event_id: int,
    committed_us: int,
    traceparent: str | None,
) -> Job:
    """The committed states one increment left on each board that counted it (same user, same
    instant), for the worker to copy to Redis and announce."""
    payload = {
        "userId": str(states[0].user_id),
        "reachedAt": states[0].reached_at_us,
        "boards": {state.board_id: {"window": state.window_id, "newScore": state.score} for state in states},
        "eventId": event_id,
        "displayName": display_name,
        "public": is_public,
        "committedAt": committed_us,
        "traceparent": traceparent,
    }
    return Job(APPLY_SCORE, payload, apply_job_id(event_id))


def states_of(payload: dict[str, Any]) -> list[ScoreState]:
    """The states an apply_score payload carries. A payload without `boards` was written by an
    API process of the previous release (one all-time board), still read during a deploy."""
    boards = payload.get("boards") or {payload["board"]: {"window": "all", "newScore": payload["newScore"]}}
    user_id, reached_at = UUID(payload["userId"]), int(payload["reachedAt"])
    version = int(payload.get("eventId") or 0)  # the event that made these scores
    return [
        ScoreState(board_id, user_id, int(entry["newScore"]), reached_at, entry["window"], version)
        for board_id, entry in boards.items()
    ]


def refresh_profiles_job(user_ids: Sequence[UUID]) -> Job:
    """Each privacy change is its own job: two quick changes must both be carried over."""
    return Job(REFRESH_PROFILES, {"userIds": [str(user) for user in user_ids]}, f"profiles:{uuid4()}")


def moderate_users_job(user_ids: Sequence[UUID]) -> Job:
    """These users were banned, unbanned, quarantined or cleared: the worker moves their entries
    in every board's ranking (the job reads their state from the database, whatever the order)."""
    return Job(MODERATE_USERS, {"userIds": [str(user) for user in user_ids]}, f"moderation:{uuid4()}")


class JobQueue:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._enqueue = Scripts(redis).enqueue_job

    async def add_to(self, pipe: Pipeline, job: Job) -> None:
        """Add the enqueue of `job` to a pipeline (it runs when the pipeline does); its reply is
        1 when enqueued, 0 when a job of that id was queued already."""
        now_ms = int(time.time() * 1000)
        keys = [job_key_prefix + job.job_id, result_key_prefix + job.job_id, JOB_QUEUE]
        await self._enqueue(
            keys=keys, args=[job.job_id, job.encode(now_ms), now_ms, JOB_EXPIRES_MS], client=pipe
        )

    async def enqueue(self, job: Job) -> bool:
        """Enqueue one job on its own; False when a job of that id was queued already."""
        async with self._redis.pipeline(transaction=False) as pipe:
            await self.add_to(pipe, job)
            (added,) = await execute(pipe)
        return bool(added)
