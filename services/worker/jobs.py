"""arq jobs: copy one increment's committed scores (one per board) to Redis and announce them."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry
from opentelemetry.trace import SpanKind

from scoreboard.domain.events import user_score_updated
from scoreboard.domain.models import ScoreState
from scoreboard.redis_store import events
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.job_queue import states_of
from scoreboard.telemetry import tracing
from services.worker.context import WorkerContext, context_of

log = logging.getLogger("scoreboard.worker.jobs")


async def announce(
    context: WorkerContext,
    ranked: list[tuple[ScoreState, int]],
    *,
    committed_us: int,
    traceparent: str | None,
) -> None:
    """Append a user_score_updated per (state, rank), then remember they were announced: two
    round trips however many boards an increment counted on, the marks only once every event
    is on the stream (at least once, never lost).

    They are for their owner alone (`pub` 0): the public stream carries the Top 10 as state, whose
    `leaderboard_updated` already holds the scores (ARCHITECTURE.md: Events).
    """
    if not ranked:
        return
    payloads = [
        user_score_updated(state.board_id, state.window_id, state.user_id, state.score, rank)
        for state, rank in ranked
    ]
    entries = [
        {
            "payload": payload,
            "user_id": str(state.user_id),
            "public": False,
            "committed_us": committed_us,
            "traceparent": traceparent,
        }
        for payload, (state, _) in zip(payloads, ranked, strict=True)
    ]
    await events.append_many(context.redis, entries, maxlen=context.settings.stream_maxlen)
    await context.leaderboard.mark_emitted(*(state for state, _ in ranked))
    context.metrics.events_published.labels(payloads[0]["type"]).inc(len(payloads))


def shares_ranks(context: WorkerContext, board_id: str) -> bool:
    board = context.boards.get(board_id)
    return board is not None and board.shared_ranks


async def apply_score(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    context = context_of(ctx)
    span = tracing.tracer().start_as_current_span(
        "apply_score", context=tracing.context_from(payload.get("traceparent")), kind=SpanKind.CONSUMER
    )
    with span:
        return await _apply(context, states_of(payload), payload)


async def _apply(context: WorkerContext, states: list[ScoreState], payload: dict[str, Any]) -> str:
    try:
        outcomes = await context.leaderboard.write_through(
            states, payload["displayName"], bool(payload["public"])
        )
        # While a window is rebuilt its ranks are partial: the reconciler announces such a state
        # (still unannounced) with its true rank once the window is ready.
        await announce(
            context,
            [
                (state, outcome.rank_on(shares_ranks(context, state.board_id)))
                for state, outcome in zip(states, outcomes, strict=True)
                if outcome.needs_event and outcome.board_ready
            ],
            committed_us=int(payload.get("committedAt") or 0),
            traceparent=tracing.current_traceparent(),
        )
    except REDIS_DOWN as error:
        context.metrics.jobs.labels("apply_score", "retried").inc()
        raise Retry(defer=1) from error
    except Exception:
        context.metrics.jobs.labels("apply_score", "failed").inc()
        raise
    for state in states:
        context.publisher.mark_dirty(state.board_id, state.window_id)
    applied = any(outcome.applied for outcome in outcomes)
    context.metrics.jobs.labels("apply_score", "applied" if applied else "already_applied").inc()
    return "applied" if applied else "current"
