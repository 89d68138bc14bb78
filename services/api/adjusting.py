"""Adjustments under the two-person rule (ARCHITECTURE.md: Operators): one admin proposes, another
approves, and the approval applies the adjustment exactly once, in the transaction that records
it and its audit row. Then it reaches Redis and the streams like an increment (the worker's
apply_score job), or, for a past window, it is in the final standings read from PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import uuid4

from scoreboard.db import adjustments, audit, users
from scoreboard.db.adjustments import Adjustment, AdjustmentStatus, Applied
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.boards import known_board
from scoreboard.domain.errors import Conflict, NotFound, Reason, ScoreboardError, Unauthorized
from scoreboard.domain.models import Principal, ScoreState
from scoreboard.domain.ranking import to_micros
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.job_queue import apply_score_job
from scoreboard.telemetry import tracing
from services.api.admin_schemas import AdjustmentProposal, Decision
from services.api.context import ApiContext
from services.api.routes.admin.database import database_unavailable

log = logging.getLogger("scoreboard.api.adjustments")


def _entry(
    principal: Principal,
    action: str,
    before: Adjustment | None,
    after: Adjustment,
    reason: str,
    request_id: str,
) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor=str(principal.user_id),
        action=action,
        target=f"adjustment:{after.id}",
        before=before.to_json() if before else None,
        after=after.to_json(),
        reason=reason,
        request_id=request_id,
    )


async def propose(
    context: ApiContext, principal: Principal, body: AdjustmentProposal, request_id: str
) -> Adjustment:
    """A pending adjustment of exactly the board and window named (the current one by default)."""
    board = context.boards[known_board(body.board, context.boards)]
    window = board.readable_window(body.window, datetime.now(UTC))
    try:
        async with audit.audited(context.pool) as work:
            if not await users.profiles(work.connection, [body.userId]):
                raise NotFound("no such user", details={"userId": str(body.userId)})
            proposed = await adjustments.propose(
                work.connection,
                adjustment_id=uuid4(),
                user_id=body.userId,
                board_id=board.id,
                window_id=window.id,
                delta=body.delta,
                reason=body.reason,
                proposed_by=str(principal.user_id),
            )
            await work.append(
                _entry(principal, "adjustment.propose", None, proposed, body.reason, request_id)
            )
    except DB_DOWN as error:
        raise database_unavailable() from error
    return proposed


async def review(
    context: ApiContext, decision: Decision, *, approve: bool, ip: str | None, user_agent: str | None
) -> Adjustment:
    """Approve (apply) or reject a pending adjustment. Racing reviews are served one after the
    other (the row is locked): the second finds it reviewed already (409)."""
    principal, adjustment_id, reason = decision.principal, decision.target_id, decision.reason
    applied: Applied | None = None
    profile = ("", False)
    try:
        async with audit.audited(context.pool) as work:
            pending = await adjustments.lock(work.connection, adjustment_id)
            _check_reviewable(pending, principal, approve=approve)
            assert pending is not None
            if approve:
                _check_window_open(context, pending)
                applied = await adjustments.apply(work.connection, pending, ip=ip, user_agent=user_agent)
                profile = (await users.profiles(work.connection, [pending.user_id]))[pending.user_id]
            status = AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED
            reviewed = await adjustments.review(
                work.connection,
                adjustment_id,
                status=status,
                reviewed_by=str(principal.user_id),
                reason=reason,
                applied=applied,
            )
            action = "adjustment.approve" if approve else "adjustment.reject"
            await work.append(_entry(principal, action, pending, reviewed, reason, decision.request_id))
    except DB_DOWN as error:
        raise database_unavailable() from error
    if applied is not None and applied.applied_delta:
        await _announce(context, reviewed, applied, profile)
    return reviewed


def _check_reviewable(pending: Adjustment | None, principal: Principal, *, approve: bool) -> None:
    if pending is None:
        raise NotFound("no such adjustment")
    # The proposer may withdraw (reject) their own proposal, never approve it.
    if approve and pending.proposed_by == str(principal.user_id):
        raise Unauthorized("another admin must approve this adjustment", reason=Reason.SAME_REVIEWER)
    if pending.status is not AdjustmentStatus.PENDING:
        raise Conflict(
            f"this adjustment is {pending.status.value} already",
            reason=Reason.ALREADY_REVIEWED,
            details={"status": pending.status.value},
        )


def _check_window_open(context: ApiContext, pending: Adjustment) -> None:
    """Its board still exists and its window is still retained (else there is nothing to change)."""
    board = context.boards.get(pending.board_id)
    try:
        if board is None:
            raise NotFound("no such board")
        board.readable_window(pending.window_id, datetime.now(UTC))
    except ScoreboardError as error:
        raise Conflict(
            "the adjustment's board or window is no longer kept",
            reason=Reason.WINDOW_CLOSED,
            details={"board": pending.board_id, "window": pending.window_id},
        ) from error


async def _announce(
    context: ApiContext, adjusted: Adjustment, applied: Applied, profile: users.Profile
) -> None:
    """The current window's new score reaches Redis and the streams through the worker's job,
    as an increment's does (if Redis is away, the reconciler carries it over); a past window is
    read from PostgreSQL, where it is already. This process's cached Top N go at once; the other
    processes' expire within their TOP_CACHE_MS."""
    context.top_cache.clear()
    board = context.boards[adjusted.board_id]
    if board.window_at(datetime.now(UTC)).id != adjusted.window_id:
        return
    reached_us = to_micros(applied.reached_at)
    state = ScoreState(
        adjusted.board_id,
        adjusted.user_id,
        applied.score_after,
        reached_us,
        adjusted.window_id,
        applied.event_id,
    )
    job = apply_score_job(
        [state],
        display_name=profile[0],
        is_public=profile[1],
        event_id=applied.event_id,
        committed_us=reached_us,
        traceparent=tracing.current_traceparent(),
    )
    try:
        await context.jobs.enqueue(job)
    except REDIS_DOWN:
        log.warning(
            "Redis unavailable; the reconciler will apply the adjustment",
            extra={"event_id": applied.event_id},
        )
