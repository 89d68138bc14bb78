"""Enqueueing worker jobs. The payload is the committed absolute state, never a delta."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.keys import JOB_QUEUE, apply_job_id

APPLY_SCORE = "apply_score"


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


async def enqueue_apply_score(redis: ArqRedis, payload: dict[str, Any]) -> None:
    job_id = apply_job_id(payload["board"], payload["userId"], payload["newScore"])
    await redis.enqueue_job(APPLY_SCORE, payload, _job_id=job_id, _queue_name=JOB_QUEUE)
