"""Bans and the anomaly detector's reviews (ARCHITECTURE.md: Operators): each decision changes the user's
state in user_moderation and closes what it decides, with its audit row, in one transaction.

Then the change spreads: the worker moves the user's entries out of every board's ranking (or
back) at once through a job, else its moderation feed does within a second; this process's
banned set and cached Top N at once, the other processes' within their refresh (2 s at most).
Every transaction locks the user's row first, then the review: one order, no deadlock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from scoreboard.db import audit, moderation, reviews
from scoreboard.db.moderation import UserState
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.db.reviews import Review, ReviewStatus
from scoreboard.domain.errors import Conflict, NotFound, Reason
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.job_queue import moderate_users_job
from services.api.admin_schemas import Decision
from services.api.context import ApiContext
from services.api.routes.admin.database import database_unavailable

log = logging.getLogger("scoreboard.api.moderation")

# A user a reviewer cleared is not quarantined again automatically for this long.
CLEARED_GRACE = timedelta(hours=24)


async def set_banned(context: ApiContext, decision: Decision, *, banned: bool) -> dict[str, Any]:
    """Ban (closing the user's open review, if any) or unban; the user's state after it."""
    principal, user_id, reason = decision.principal, decision.target_id, decision.reason
    try:
        async with audit.audited(context.pool) as work:
            before = await moderation.lock_user(work.connection, user_id)
            if before is None:
                raise NotFound("no such user", details={"userId": str(user_id)})
            if banned == (before is UserState.BANNED):
                reason_code = Reason.ALREADY_BANNED if banned else Reason.NOT_BANNED
                raise Conflict(
                    f"this user is {before.value}", reason=reason_code, details={"state": before.value}
                )
            after = UserState.BANNED if banned else UserState.VISIBLE
            await moderation.set_state(work.connection, user_id, after)
            closed = None
            if banned:
                closed = await reviews.close_open(
                    work.connection,
                    user_id,
                    status=ReviewStatus.BANNED,
                    closed_by=str(principal.user_id),
                    reason=reason,
                )
            await work.append(
                audit.AuditEntry(
                    actor=str(principal.user_id),
                    action="user.ban" if banned else "user.unban",
                    target=f"user:{user_id}",
                    before={"state": before.value},
                    after={"state": after.value, "review": str(closed) if closed else None},
                    reason=reason,
                    request_id=decision.request_id,
                )
            )
    except DB_DOWN as error:
        raise database_unavailable() from error
    await spread(context, user_id)
    return {"userId": str(user_id), "state": after.value}


async def decide_review(context: ApiContext, decision: Decision, *, ban: bool) -> Review:
    """Clear (visible again, and not quarantined automatically for CLEARED_GRACE) or ban."""
    principal, review_id, reason = decision.principal, decision.target_id, decision.reason
    found = await _find(context, review_id)
    try:
        async with audit.audited(context.pool) as work:
            state = await moderation.lock_user(work.connection, found.user_id)
            review = await reviews.lock(work.connection, review_id)
            assert review is not None  # neither a review nor a user is ever deleted
            assert state is not None
            if review.status is not ReviewStatus.OPEN:
                raise Conflict(
                    f"this review is {review.status.value} already",
                    reason=Reason.REVIEW_CLOSED,
                    details={"status": review.status.value},
                )
            status = ReviewStatus.BANNED if ban else ReviewStatus.CLEARED
            await reviews.close(
                work.connection, review_id, status=status, closed_by=str(principal.user_id), reason=reason
            )
            if ban:
                after = UserState.BANNED
                await moderation.set_state(work.connection, review.user_id, after)
            else:
                after = UserState.VISIBLE if state is UserState.QUARANTINED else state
                await moderation.set_state(
                    work.connection, review.user_id, after, exempt_until=datetime.now(UTC) + CLEARED_GRACE
                )
            decided = await reviews.lock(work.connection, review_id)
            assert decided is not None
            await work.append(
                audit.AuditEntry(
                    actor=str(principal.user_id),
                    action="review.ban" if ban else "review.clear",
                    target=f"review:{review_id}",
                    before={**review.to_json(), "state": state.value},
                    after={**decided.to_json(), "state": after.value},
                    reason=reason,
                    request_id=decision.request_id,
                )
            )
    except DB_DOWN as error:
        raise database_unavailable() from error
    await spread(context, review.user_id)
    return decided


async def _find(context: ApiContext, review_id: UUID) -> Review:
    try:
        found = await reviews.find(context.pool, review_id)
    except DB_DOWN as error:
        raise database_unavailable() from error
    if found is None:
        raise NotFound("no such review")
    return found


async def spread(context: ApiContext, user_id: UUID) -> None:
    """The worker moves the user's entries now (else its feed does, within a second); this
    process refuses or accepts their writes and drops its cached Top N at once."""
    try:
        await context.jobs.enqueue(moderate_users_job([user_id]))
    except REDIS_DOWN:
        log.warning("Redis unavailable; the worker's moderation feed will carry the change")
    try:
        await context.moderation.refresh()
    except DB_DOWN:
        log.warning("database unavailable; the moderation view is refreshed on its next tick")
    context.top_cache.clear()
