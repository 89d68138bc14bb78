"""The increment use case: checks after the guards, the idempotent commit, then Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from redis.asyncio.client import Pipeline

from scoreboard.db import score_events
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.db.pool import ArgumentEncodingError
from scoreboard.domain.actions import server_delta
from scoreboard.domain.errors import (
    IdempotencyConflict,
    Reason,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from scoreboard.domain.events import TOP_SIZE
from scoreboard.domain.models import IncrementRecord, Principal, ScoreState
from scoreboard.domain.ranking import to_micros
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.job_queue import apply_score_job
from scoreboard.redis_store.leaderboard import ApplyOutcome
from scoreboard.security.signing import canonical_increment, signature_matches, timestamp_in_window
from scoreboard.security.tickets import check_ticket
from scoreboard.telemetry import tracing
from services.api import standings
from services.api.context import ApiContext
from services.api.schemas import IncrementRequest

log = logging.getLogger("scoreboard.api.increments")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
    device_id: str | None


def request_hash(body: IncrementRequest) -> str:
    """What makes two requests "the same": not the timestamp or signature, so a re-signed retry replays."""
    delta = "" if body.delta is None else str(body.delta)
    material = f"{body.userId}\n{body.actionId}\n{delta}\n{body.nonce}"
    return hashlib.sha256(material.encode()).hexdigest()


def parse_timestamp(header: str | None) -> str:
    if header is None:
        raise ValidationFailed(
            "the x-request-timestamp header is required", details={"field": "x-request-timestamp"}
        )
    if not re.fullmatch(r"[0-9]{1,12}", header):
        raise ValidationFailed(
            "x-request-timestamp must be whole unix seconds", details={"field": "x-request-timestamp"}
        )
    return header


def verify_request(
    context: ApiContext,
    principal: Principal,
    body: IncrementRequest,
    raw_user_id: str,
    raw_action_id: str,
    timestamp_header: str,
) -> tuple[str, int]:
    """Ownership, timestamp, signature, ticket; return the action type and the server delta."""
    if body.userId != principal.user_id:
        raise Unauthorized("you can only increment your own score", reason=Reason.USER_MISMATCH)
    if not timestamp_in_window(int(timestamp_header), time.time(), context.settings.signature_tolerance_s):
        raise Unauthorized(
            "the request timestamp is outside the accepted window", reason=Reason.TIMESTAMP_OUT_OF_WINDOW
        )
    if not context.signing_keys:
        raise Unavailable(
            "increments are disabled: no signing key is configured", reason=Reason.NO_SIGNING_KEY
        )
    canonical = canonical_increment(
        user_id=raw_user_id,
        action_id=raw_action_id,
        delta=body.delta,
        nonce=body.nonce,
        timestamp=timestamp_header,
    )
    if not signature_matches(context.signing_keys, body.keyId, canonical, body.signature):
        raise Unauthorized("the request signature does not match", reason=Reason.SIGNATURE_INVALID)
    ticket = context.tickets.read(body.nonce)
    action_type = check_ticket(
        ticket,
        user_id=principal.user_id,
        action_id=body.actionId,
        action_type=context.action_types.get(ticket.action_type),
        now_ms=int(time.time() * 1000),
    )
    return action_type.name, server_delta(action_type, body.delta)


async def commit(
    context: ApiContext,
    principal: Principal,
    body: IncrementRequest,
    action_type: str,
    delta: int,
    client: ClientInfo,
) -> tuple[IncrementRecord, bool]:
    item = score_events.NewIncrement(
        user_id=principal.user_id,
        display_name=principal.display_name,
        action_id=body.actionId,
        action_type=action_type,
        delta=delta,
        request_hash=request_hash(body),
        source=body.keyId,
        ip=client.ip,
        user_agent=client.user_agent,
        device_id=client.device_id,
    )
    try:
        if context.committer is not None:
            record, is_public = await context.committer.apply(item)
        else:
            record, is_public = await score_events.apply_increment(context.pool, context.board_spec, item)
    except ArgumentEncodingError:  # asyncpg could not encode what we sent: our bug, not an outage
        context.metrics.db_write_errors.labels("error").inc()
        raise
    except DB_DOWN as error:
        context.metrics.db_write_errors.labels("unavailable").inc()
        raise Unavailable(
            "the database is unavailable; retry shortly", reason=Reason.DATABASE_UNAVAILABLE, retry_after_s=2
        ) from error
    except asyncpg.PostgresError:
        context.metrics.db_write_errors.labels("error").inc()
        raise
    if not record.inserted and record.request_hash != item.request_hash:
        context.metrics.idempotency.labels("conflict").inc()
        raise IdempotencyConflict(reason=Reason.PAYLOAD_MISMATCH, details={"actionId": str(body.actionId)})
    return record, is_public


async def replay_after_expiry(
    context: ApiContext, principal: Principal, body: IncrementRequest, expired: Unauthorized
) -> IncrementRecord:
    """A retry of a completed request replays its stored answer even after its ticket expired
    (ownership and signature were checked already); anything else keeps the ticket's refusal."""
    try:
        record = await score_events.recorded(context.pool, principal.user_id, body.actionId)
    except DB_DOWN as error:
        raise Unavailable(
            "the database is unavailable; retry shortly", reason=Reason.DATABASE_UNAVAILABLE, retry_after_s=2
        ) from error
    if record is None:
        raise expired
    if record.request_hash != request_hash(body):
        context.metrics.idempotency.labels("conflict").inc()
        raise IdempotencyConflict(reason=Reason.PAYLOAD_MISMATCH, details={"actionId": str(body.actionId)})
    return record


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one increment left its user on one board."""

    board_id: str
    window_id: str
    score: int
    rank: int | None


async def rank_after_commit(
    context: ApiContext,
    principal: Principal,
    record: IncrementRecord,
    is_public: bool,
) -> tuple[list[Standing], list[dict[str, Any]] | None]:
    """Write the committed states (one per board that counted the increment) through to Redis
    for exact ranks and enqueue the worker's job, in one round trip; also the main board's Top 10
    when the increment entered it. If Redis is away (or a window is being built), a rank comes
    from the database and the reconciler carries the state over later."""
    reached_us = to_micros(record.reached_at)
    states = [
        ScoreState(
            board_id,
            principal.user_id,
            record.boards[board_id].score,
            reached_us,
            record.boards[board_id].window_id,
            record.event_id,
        )
        for board_id in context.answer_order
        if board_id in record.boards
    ]
    job = apply_score_job(
        states,
        display_name=principal.display_name,
        is_public=is_public,
        event_id=record.event_id,
        committed_us=reached_us,
        traceparent=tracing.current_traceparent(),
    )

    async def enqueue(pipe: Pipeline) -> None:
        await context.jobs.add_to(pipe, job)

    try:
        if context.queue_redis is context.redis:  # one server: the job rides the same round trip
            outcomes = await context.leaderboard.write_through(
                states, principal.display_name, is_public, also=enqueue
            )
        else:  # the queue on its own primary (ARCHITECTURE.md: Redis roles): both at once
            written, queued = await asyncio.gather(
                context.leaderboard.write_through(states, principal.display_name, is_public),
                context.jobs.enqueue(job),
                return_exceptions=True,  # both are awaited to the end, whichever fails
            )
            if isinstance(written, BaseException):
                raise written
            if isinstance(queued, BaseException):
                raise queued
            outcomes = written
    except REDIS_DOWN:
        context.metrics.enqueue_failures.inc()
        log.warning(
            "Redis unavailable after commit; the reconciler will apply it",
            extra={"event_id": record.event_id},
        )
        return [await _standing(context, state, None) for state in states], None
    context.metrics.jobs.labels("apply_score", "enqueued").inc()
    standings_now = [
        await _standing(context, state, outcome) for state, outcome in zip(states, outcomes, strict=True)
    ]
    main, main_outcome = standings_now[0], outcomes[0]
    top = None
    # A hidden user's increment never changes the public Top 10 (they are not in it).
    changed_top = main_outcome.applied and main_outcome.board_ready and not main_outcome.hidden
    if changed_top and main.rank is not None and main.rank <= TOP_SIZE:
        board = context.boards[main.board_id]
        try:
            entries = await context.leaderboard.top(
                board.id, main.window_id, TOP_SIZE, shared=board.shared_ranks
            )
            top = [entry.to_public() for entry in entries] if entries is not None else None
        except REDIS_DOWN:
            top = None
    return standings_now, top


async def _standing(context: ApiContext, state: ScoreState, outcome: ApplyOutcome | None) -> Standing:
    board = context.boards[state.board_id]
    if outcome is not None and outcome.board_ready:
        rank: int | None = outcome.rank_on(board.shared_ranks)
    else:  # Redis away, or the window being built (its ranks are partial)
        rank = await standings.rank_now(context, board, state.window_id, state.user_id, from_database=True)
    return Standing(state.board_id, state.window_id, state.score, rank)


async def standings_now(context: ApiContext, user_id: UUID, record: IncrementRecord) -> list[Standing]:
    """A replay's boards: its scores then, its ranks now (main board first)."""
    found = []
    order = [board for board in context.answer_order if board in record.boards]
    for board_id in order + [board for board in record.boards if board not in order]:  # since removed
        counted, board = record.boards[board_id], context.boards.get(board_id)
        rank = await standings.rank_now(context, board, counted.window_id, user_id) if board else None
        found.append(Standing(board_id, counted.window_id, counted.score, rank))
    return found
