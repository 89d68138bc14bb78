"""Convergence: Redis always ends up equal to PostgreSQL, with no manual step.

Every second (arq cron, one run at a time across workers) the reconciler
* rebuilds a board from the database, in batches and under a lock, when Redis lost it (the
  `ready` flag is gone: a restart without persistence, a flush); reads use the database meanwhile;
  the board is built in temporary keys and swapped in atomically with the live writes made
  meanwhile merged (see rebuild);
* then applies every score changed since its last tick (see catch_up: a transaction that stamped
  `updated_at` earlier may commit later), announcing those whose event never went out because
  the enqueue or the job was lost;
* and carries profile changes (names, privacy) over to Redis (services/worker/profiles.py).
Applying is absolute and version-guarded, so re-applying what is already there changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from scoreboard.db import moderation as moderation_db
from scoreboard.db import scores, users
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.boards import Board
from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.keys import ALL_TIME, BoardKeys
from services.worker import moderation, profiles
from services.worker.context import WorkerContext, context_of
from services.worker.jobs import announce, shares_ranks

log = logging.getLogger("scoreboard.worker.reconciler")

TICK_BUDGET_S = 0.8
PRUNE_EVERY_S = 60.0

PageHook = Callable[[int], Awaitable[None]]

# The change feeds each tick carries to Redis after the boards: how many entries each changed
# (the outcome's `profiles:N`, `moderation:N`); one skipped while a store is away skips alone.
CHANGE_FEEDS: dict[str, Callable[[WorkerContext], Awaitable[int]]] = {
    "profiles": profiles.sync_profiles,
    "moderation": moderation.sync_moderation,
}


async def reconcile(ctx: dict[str, Any]) -> str:
    context = context_of(ctx)
    outcome = []
    now = datetime.now(UTC)
    open_since = await _oldest_open_change(context)  # before any scan: one bound for every board
    for board in context.boards.values():
        window_id = board.window_at(now).id  # a new window starts empty: it is built at once
        try:
            if not await context.leaderboard.is_ready(board.id, window_id):
                outcome.append(await rebuild(context, board.id, window_id))
            if await context.leaderboard.is_ready(board.id, window_id):  # not while another rebuilds
                outcome.append(await catch_up(context, board.id, window_id, open_since=open_since))
            if pruned := await prune_expired_windows(context, board, now):
                outcome.append(f"pruned:{pruned}")
        except (*REDIS_DOWN, *DB_DOWN) as error:
            log.warning("reconcile skipped", extra={"board": board.id, "error": type(error).__name__})
            context.metrics.jobs.labels("reconcile", "skipped").inc()
            outcome.append("skipped")
    for name, sync in CHANGE_FEEDS.items():
        try:
            if changed := await sync(context):
                outcome.append(f"{name}:{changed}")
        except (*REDIS_DOWN, *DB_DOWN) as error:
            log.warning("%s sync skipped", name, extra={"error": type(error).__name__})
            outcome.append(f"{name}:skipped")
    return ",".join(outcome)


async def prune_expired_windows(context: WorkerContext, board: Board, now: datetime) -> int:
    """Delete the database rows of windows past the board's retention, in small batches, at most
    once a minute per board and within one tick's budget (the next run goes on)."""
    if board.rule.kind == ALL_TIME or time.monotonic() < context.next_prune.get(board.id, 0.0):
        return 0
    context.next_prune[board.id] = time.monotonic() + PRUNE_EVERY_S
    oldest_kept = board.rule.shift(board.window_at(now), -board.retain).id
    deadline = time.monotonic() + TICK_BUDGET_S / 2
    pruned = 0
    while time.monotonic() < deadline:
        deleted = await scores.prune_windows_before(
            context.pool, board.id, oldest_kept, context.settings.prune_batch
        )
        pruned += deleted
        if deleted < context.settings.prune_batch:
            break
    else:
        context.next_prune[board.id] = 0.0  # more to delete: carry on next tick
    return pruned


async def rebuild(
    context: WorkerContext, board_id: str, window_id: str = ALL_TIME, *, on_page: PageHook | None = None
) -> str:
    """Copy a board window from PostgreSQL into temporary keys, then swap them in atomically.

    Pages are read by user id (the next one is fetched while the current one is written) and
    written with plain bulk ZADD/HSET into the board's rebuild keys; live writes keep going to the
    live keys meanwhile (nobody reads those until `ready` is back). One final script merges what
    the live keys received (only if newer), renames the rebuild keys over them and sets `ready`,
    so no live write is lost and no read sees a partial board. `on_page(copied)` runs after each
    page is written (tests interleave live writes there).
    """
    keys = BoardKeys(board_id, window_id)
    token = secrets.token_hex(8)
    leaderboard = context.leaderboard
    if not await leaderboard.lock_rebuild(board_id, window_id, token):
        return "rebuild-elsewhere"
    started = time.monotonic()
    started_at = datetime.now(UTC)
    margin = timedelta(seconds=context.settings.reconcile_margin_s)
    count = 0
    writing: asyncio.Future[Any] | None = None
    try:
        if not await leaderboard.begin_rebuild(board_id, window_id, token):
            return "rebuild-elsewhere"  # built by another worker between our check and the lock
        # Hidden users stay out of the ranking, entries or not; changes made meanwhile are
        # asserted once the board is swapped in.
        hidden = {str(user) for user in await moderation_db.hidden_users(context.pool)}
        await leaderboard.load_rebuild_hidden(board_id, window_id, hidden)
        pages = scores.iterate_board(context.pool, board_id, window_id, context.settings.rebuild_batch)
        async with aclosing(pages):
            async for page in pages:  # the next page is fetched while this one is written
                if writing is not None:
                    await writing
                    if on_page is not None:
                        await on_page(count)
                writing = asyncio.ensure_future(
                    asyncio.gather(
                        leaderboard.load_rebuild_page(
                            board_id,
                            window_id,
                            page.users,
                            page.scores,
                            page.members,
                            page.names,
                            page.public,
                            page.versions,
                            hidden,
                        ),
                        leaderboard.extend_rebuild_lock(board_id, window_id),
                    )
                )
                count += len(page)
        if writing is not None:
            await writing
            writing = None
            if on_page is not None:
                await on_page(count)
        # Everything that changed while we scanned is caught up from here by the watermark.
        await context.redis.set(keys.watermark, f"{(started_at - margin).timestamp():.6f}")
        await context.redis.delete(keys.change_cursor, keys.safe_point)
        merged = await leaderboard.finish_rebuild(board_id, window_id, token, count)
        if merged is None:
            log.warning("rebuild abandoned: lock or rebuild keys lost", extra={"board": board_id})
            return "rebuild-abandoned"
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        await leaderboard.unlock_rebuild(board_id, window_id, token)
    await moderation.assert_changes_since(context, started_at - margin, only=(board_id, window_id))
    context.metrics.rebuilds.inc()
    context.publisher.mark_dirty(board_id, window_id)
    log.info(
        "board rebuilt",
        extra={
            "board": board_id,
            "window": window_id,
            "users": count,
            "live_merged": merged,
            "s": round(time.monotonic() - started, 3),
        },
    )
    return f"rebuilt:{count}"


async def catch_up(
    context: WorkerContext, board_id: str, window_id: str = ALL_TIME, *, open_since: datetime | None = None
) -> str:
    """Apply every change of the board's current window since the last catch-up, within one
    tick's budget. Past windows are read from PostgreSQL: not copied.

    A change can commit after a later one was read (each row is stamped inside its transaction),
    so a tick starts from its safe point when it has one: the start of the oldest transaction that
    was open when the previous tick began. Each tick stores `open_since` (`reconcile` reads it
    before any scan; None: nobody could say) as the next one's. Without one, or when that lies
    further back than the margin, it starts at the margin before the newest change read
    (decision 0018). A tick cut short by its budget saves its exact cursor and the next one
    resumes there, so a burst larger than one tick (a backfill touching a million rows) is still
    worked through; that chain of ticks ends without a safe point.
    """
    keys = BoardKeys(board_id, window_id)
    stored, resume, safe = await context.redis.mget([keys.watermark, keys.change_cursor, keys.safe_point])
    margin = timedelta(seconds=context.settings.reconcile_margin_s)
    watermark = datetime.fromtimestamp(float(stored), UTC) if stored else datetime.now(UTC) - margin
    start = watermark - margin
    if safe:
        start = max(start, datetime.fromtimestamp(float(safe), UTC))
    next_safe = open_since if resume is None else None
    cursor = _decode_cursor(resume) if resume else scores.ChangeCursor(start)
    deadline = time.monotonic() + TICK_BUDGET_S
    repaired = read = 0
    while True:
        changes, cursor = await scores.changed_since(context.pool, cursor, context.settings.reconcile_batch)
        mine = [s for s in changes if s.board_id == board_id and s.window_id == window_id]
        read += len(mine)
        repaired += await _apply_and_announce(context, mine)
        watermark = max(watermark, cursor.updated_at)
        finished = len(changes) < context.settings.reconcile_batch
        if finished or time.monotonic() > deadline:
            break
    async with context.redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.watermark, f"{watermark.timestamp():.6f}")
        if finished:
            pipe.delete(keys.change_cursor)
        else:
            pipe.set(keys.change_cursor, _encode_cursor(cursor))
        if finished and next_safe is not None:
            pipe.set(keys.safe_point, f"{next_safe.timestamp():.6f}")
        else:
            pipe.delete(keys.safe_point)
        await pipe.execute()
    context.metrics.reconciler_lag.set(max(0.0, (datetime.now(UTC) - watermark).total_seconds()))
    context.metrics.reconciler_reads.inc(read)
    if repaired:
        context.metrics.reconciler_repairs.inc(repaired)
        context.publisher.mark_dirty(board_id, window_id)
    return f"repaired:{repaired}"


async def _oldest_open_change(context: WorkerContext) -> datetime | None:
    try:
        return await scores.oldest_open_change(context.pool)
    except DB_DOWN:
        return None  # every board's catch-up is skipped this tick anyway


def _encode_cursor(cursor: scores.ChangeCursor) -> bytes:
    return orjson.dumps(
        [cursor.updated_at.timestamp(), cursor.board_id, cursor.window_id, str(cursor.user_id)]
    )


def _decode_cursor(raw: bytes) -> scores.ChangeCursor:
    fields = orjson.loads(raw)
    if len(fields) == 3:  # saved by the previous release: no window
        fields.insert(2, "")
    moment, board_id, window_id, user_id = fields
    return scores.ChangeCursor(datetime.fromtimestamp(moment, UTC), board_id, window_id, UUID(user_id))


async def _apply_and_announce(context: WorkerContext, states: list[ScoreState]) -> int:
    if not states:
        return 0
    outcomes = await context.leaderboard.apply(states)
    missing_profiles = [s.user_id for s, o in zip(states, outcomes, strict=True) if o.needs_event]
    if missing_profiles:
        profiles = await users.profiles(context.pool, missing_profiles)
        await context.leaderboard.save_profiles(profiles)
        ranked = [
            (state, outcome.rank_on(shares_ranks(context, state.board_id)))
            for state, outcome in zip(states, outcomes, strict=True)
            if outcome.needs_event
        ]
        await announce(context, ranked, committed_us=0, traceparent=None)
    return sum(1 for outcome in outcomes if outcome.applied or outcome.needs_event)
