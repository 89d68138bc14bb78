"""The anomaly watch (ARCHITECTURE.md: Operators): committed increments through the detector, and a user
who breaks a rule quarantined (hidden from others, still playing) with a review opened.

One worker at a time watches (a lock in Redis, renewed every tick; another worker takes over
when it lapses). It reads score_events incrementally, in id order, a page per query: nothing on
the API's path, no query per increment. Ids are taken before commit, so an id below the newest
read may still commit: such holes are looked for again for HOLE_TTL_S. The position is saved in
Redis every tick, with a checkpoint every minute; a worker taking over starts from the checkpoint
of an hour ago, so its hourly windows are whole at once. Every quarantine is one audit row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

from scoreboard.background import BackgroundLoop
from scoreboard.db import audit, moderation, reviews, score_events
from scoreboard.db.moderation import Moderation, UserState
from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.domain.anomalies import HOUR_S, Detector, Flag, Rules
from scoreboard.moderation_view import ModerationView
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.keys import ANOMALY_CHECKPOINTS, ANOMALY_CURSOR, ANOMALY_LEADER
from scoreboard.redis_store.scripts import Scripts
from services.worker.context import WorkerContext
from services.worker.moderation import assert_states

log = logging.getLogger("scoreboard.worker.anomalies")

ACTOR = "worker:anomalies"
TICK_S = 1.0
LEADER_TTL_MS = 5_000
PAGE = 10_000
TICK_BUDGET_S = 0.5
HOLE_TTL_S = 10.0
MAX_HOLES = 100_000
CHECKPOINT_EVERY_S = 60
PRUNE_EVERY_S = 60.0


class EventFeed:
    """Committed increments in id order, none skipped (see the module's note on holes)."""

    def __init__(self, after_id: int) -> None:
        self.after_id = after_id
        self._holes: dict[int, float] = {}  # id -> when it was first missed (monotonic)

    async def read(self, context: WorkerContext) -> list[score_events.CommittedEvent]:
        now = time.monotonic()
        late: list[score_events.CommittedEvent] = []
        if self._holes:
            late = await score_events.committed_among(context.pool, list(self._holes))
            for event in late:
                del self._holes[event.id]
            for missing, since in list(self._holes.items()):
                if now - since > HOLE_TTL_S:  # rolled back, or an adjustment's: never coming
                    del self._holes[missing]
        batch = await score_events.committed_after(context.pool, self.after_id, PAGE)
        expected = self.after_id + 1
        for event in batch:
            if event.id - expected < MAX_HOLES - len(self._holes):
                self._holes.update(dict.fromkeys(range(expected, event.id), now))
            expected = event.id + 1
        if batch:
            self.after_id = batch[-1].id
        return late + batch


class AnomalyWatch:
    def __init__(
        self,
        context: WorkerContext,
        rules: Rules,
        view: ModerationView,
        *,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._context = context
        self._view = view
        self._on_stop = on_stop
        self.detector = Detector(rules)
        self._token = secrets.token_hex(8)
        self._release = Scripts(context.redis).release_lock
        self._feed: EventFeed | None = None  # set while this worker leads
        self._newest_at_s = 0.0
        self._next_checkpoint = 0.0
        self._next_prune = 0.0
        self._loop = BackgroundLoop(self._run, name="anomaly-watch")

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(*REDIS_DOWN):
            await self._release(keys=[ANOMALY_LEADER], args=[self._token])
        if self._on_stop is not None:
            await self._on_stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except (*DB_DOWN, *REDIS_DOWN) as error:
                log.warning("anomaly watch skipped a tick", extra={"error": type(error).__name__})
            except Exception:  # a bug here must not stop the watch for the process's lifetime
                log.exception("anomaly watch tick failed")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> int:
        """Read what was committed since the last tick (within a budget), check the rules, and
        quarantine whoever broke one; how many were quarantined. Only while leading."""
        if not await self._lead():
            return 0
        if self._feed is None:
            self._feed = EventFeed(await self._starting_point())
        quarantined = 0
        deadline = time.monotonic() + TICK_BUDGET_S
        while True:
            events = await self._feed.read(self._context)
            for event in events:
                self._newest_at_s = max(self._newest_at_s, event.at_s)
                flag = self.detector.observe(str(event.user_id), event.action_type, event.delta, event.at_s)
                if flag is not None:
                    quarantined += await self._quarantine(flag)
            if len(events) < PAGE or time.monotonic() > deadline:
                break
        for flag in self.detector.population(self._newest_at_s):
            quarantined += await self._quarantine(flag)
        await self._housekeeping()
        return quarantined

    async def _lead(self) -> bool:
        """Take or renew the watch's lock; losing it forgets the feed (the next leader has it)."""
        redis = self._context.redis
        if await redis.set(ANOMALY_LEADER, self._token, nx=True, px=LEADER_TTL_MS):
            return True
        if await redis.get(ANOMALY_LEADER) == self._token.encode():
            await redis.pexpire(ANOMALY_LEADER, LEADER_TTL_MS)
            return True
        self._feed = None
        self.detector = Detector(self.detector.rules)
        return False

    async def _starting_point(self) -> int:
        """The checkpoint of an hour ago (whole hourly windows at once), else where the last
        leader was, else the newest event."""
        redis = self._context.redis
        hour_ago = await redis.zrevrangebyscore(
            ANOMALY_CHECKPOINTS, time.time() - HOUR_S, "-inf", start=0, num=1
        )
        if hour_ago:
            return int(hour_ago[0].split(b":")[0])
        oldest = await redis.zrange(ANOMALY_CHECKPOINTS, 0, 0)
        if oldest:
            return int(oldest[0].split(b":")[0])
        saved = await redis.get(ANOMALY_CURSOR)
        return int(saved) if saved else await score_events.newest_id(self._context.pool)

    async def _housekeeping(self) -> None:
        assert self._feed is not None
        now = time.time()
        redis = self._context.redis
        await redis.set(ANOMALY_CURSOR, self._feed.after_id)
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + CHECKPOINT_EVERY_S
            await redis.zadd(ANOMALY_CHECKPOINTS, {f"{self._feed.after_id}:{int(now)}": now})
            await redis.zremrangebyscore(ANOMALY_CHECKPOINTS, "-inf", now - 2 * HOUR_S)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            self.detector.prune(self._newest_at_s)
        # A user flagged but visible again (cleared, and the grace ran out; or never quarantined:
        # the database was away) may be flagged again.
        moment = datetime.now(UTC)
        for user in [u for u in self.detector.flagged if self._view.watched(UUID(u), moment)]:
            self.detector.forget(user)
        if self._newest_at_s:
            self._context.metrics.anomaly_lag.set(max(0.0, now - self._newest_at_s))

    async def _quarantine(self, flag: Flag) -> int:
        """Quarantine the user and open a review, with its audit row; 1 when it happened (not
        when they are hidden already, or a reviewer cleared them recently)."""
        user = UUID(flag.user)
        if not self._view.watched(user, datetime.now(UTC)):
            return 0
        review_id = uuid4()
        async with audit.audited(self._context.pool) as work:
            before = await moderation.lock_user(work.connection, user)
            if before is None or not await moderation.quarantine(work.connection, user):
                return 0
            await reviews.open_review(
                work.connection, review_id=review_id, user_id=user, rule=flag.rule, observed=flag.observed
            )
            await work.append(
                audit.AuditEntry(
                    actor=ACTOR,
                    action="user.quarantine",
                    target=f"user:{user}",
                    before={"state": before.value},
                    after={
                        "state": "quarantined",
                        "rule": flag.rule,
                        "observed": flag.observed,
                        "review": str(review_id),
                    },
                    reason=f"anomaly rule {flag.rule}",
                )
            )
        self._view.note(user, Moderation(UserState.QUARANTINED))
        self._context.metrics.quarantines.labels(flag.rule).inc()
        await assert_states(self._context, {user: UserState.QUARANTINED})
        log.info(
            "user quarantined", extra={"user_id": str(user), "rule": flag.rule, "review": str(review_id)}
        )
        return 1
