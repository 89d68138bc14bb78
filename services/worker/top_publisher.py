"""Publishes `leaderboard_updated` when a board's Top 10 changed, at most once per window.

Jobs only mark a board dirty; one ticker per worker process claims the change atomically in
Redis (so several workers together still publish at most one event per window) and appends it.
A change claimed too soon stays dirty and is published by the next tick: the last state always
goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from scoreboard.domain.events import TOP_SIZE, leaderboard_updated
from scoreboard.redis_store import events
from scoreboard.redis_store.leaderboard import Leaderboard, TooSoon
from services.worker.metrics import WorkerMetrics

log = logging.getLogger("scoreboard.worker.top")


class TopPublisher:
    def __init__(
        self,
        redis: Redis,
        leaderboard: Leaderboard,
        metrics: WorkerMetrics,
        *,
        coalesce_ms: int,
        stream_maxlen: int,
    ) -> None:
        self._redis = redis
        self._leaderboard = leaderboard
        self._metrics = metrics
        self._coalesce_ms = coalesce_ms
        self._maxlen = stream_maxlen
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def mark_dirty(self, board_id: str) -> None:
        self._dirty.add(board_id)
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="top-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for board_id in list(self._dirty):  # a last flush, so a clean shutdown loses nothing
            with contextlib.suppress(RedisError, OSError):
                await self.publish_if_changed(board_id, force_wait=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait_s = 0.0
            for board_id in list(self._dirty):
                try:
                    waited = await self.publish_if_changed(board_id)
                except (RedisError, OSError) as error:
                    log.warning("top publish failed; will retry", extra={"error": type(error).__name__})
                    waited = self._coalesce_ms / 1000
                wait_s = max(wait_s, waited)
            if self._dirty:
                await asyncio.sleep(max(wait_s, 0.005))
                self._wake.set()

    async def publish_if_changed(self, board_id: str, *, force_wait: bool = False) -> float:
        """Publish the board's Top 10 if it changed; return how long to wait before retrying."""
        claim = await self._leaderboard.claim_top_change(board_id, TOP_SIZE, self._coalesce_ms)
        if isinstance(claim, TooSoon):
            if not force_wait:
                return claim.wait_ms / 1000
            await asyncio.sleep(claim.wait_ms / 1000)
            return await self.publish_if_changed(board_id)
        self._dirty.discard(board_id)
        if claim is None:
            return 0.0
        try:
            entries = await self._leaderboard.hydrate(claim.rows, first_rank=1)
            payload = leaderboard_updated(board_id, claim.version, entries)
            await events.append(self._redis, payload, maxlen=self._maxlen)
        except BaseException:
            # Claimed but not published: forget the claim so the next tick publishes it again.
            self._dirty.add(board_id)
            with contextlib.suppress(RedisError, OSError):
                await self._leaderboard.forget_top_claim(board_id)
            raise
        self._metrics.events_published.labels(payload["type"]).inc()
        return 0.0
