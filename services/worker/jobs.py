"""arq jobs: copy one committed score to Redis and announce it."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from arq import Retry
from opentelemetry.trace import SpanKind

from scoreboard.domain.events import user_score_updated
from scoreboard.domain.models import ScoreState
from scoreboard.redis_store import events
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.telemetry import tracing
from services.worker.context import WorkerContext, context_of

log = logging.getLogger("scoreboard.worker.jobs")


async def announce(
    context: WorkerContext, state: ScoreState, rank: int, *, committed_us: int, traceparent: str | None
) -> None:
    """Append user_score_updated, then remember it was announced (at least once, never lost).

    It is for its owner alone (`pub` 0): the public stream carries the Top 10 as state, whose
    `leaderboard_updated` already holds the scores (DESIGN section 6).
    """
    payload = user_score_updated(state.board_id, state.user_id, state.score, rank)
    await events.append(
        context.redis,
        payload,
        maxlen=context.settings.stream_maxlen,
        user_id=str(state.user_id),
        public=False,
        committed_us=committed_us,
        traceparent=traceparent,
    )
    await context.leaderboard.mark_emitted(state)
    context.metrics.events_published.labels(payload["type"]).inc()


async def apply_score(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    context = context_of(ctx)
    state = ScoreState(
        board_id=payload["board"],
        user_id=UUID(payload["userId"]),
        score=int(payload["newScore"]),
        reached_at_us=int(payload["reachedAt"]),
    )
    span = tracing.tracer().start_as_current_span(
        "apply_score", context=tracing.context_from(payload.get("traceparent")), kind=SpanKind.CONSUMER
    )
    with span:
        return await _apply(context, state, payload)


async def _apply(context: WorkerContext, state: ScoreState, payload: dict[str, Any]) -> str:
    try:
        outcome = await context.leaderboard.write_through(
            state, payload["displayName"], bool(payload["public"])
        )
        # While the board is rebuilt its ranks are partial: the reconciler announces this state
        # (still unannounced) with its true rank once the board is ready.
        if outcome.needs_event and outcome.board_ready:
            await announce(
                context,
                state,
                outcome.rank,
                committed_us=int(payload.get("committedAt") or 0),
                traceparent=tracing.current_traceparent(),
            )
    except REDIS_DOWN as error:
        context.metrics.jobs.labels("apply_score", "retried").inc()
        raise Retry(defer=1) from error
    except Exception:
        context.metrics.jobs.labels("apply_score", "failed").inc()
        raise
    context.publisher.mark_dirty(state.board_id)
    context.metrics.jobs.labels("apply_score", "applied" if outcome.applied else "already_applied").inc()
    return "applied" if outcome.applied else "current"
