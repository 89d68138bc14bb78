"""Publishes `leaderboard_updated` when a board window's Top 10 changed, at most once per
coalescing period.

Jobs only mark a board window dirty; one ticker per worker process claims the change atomically
in Redis (so several workers together still publish at most one event per period) and appends
it. A change claimed too soon stays dirty and is published by the next tick: the last state
always goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from scoreboard.background import BackgroundLoop
from scoreboard.domain.boards import Board
from scoreboard.domain.events import TOP_SIZE, leaderboard_updated
from scoreboard.domain.ranking import shared_ranks, unique_ranks
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
        boards: Mapping[str, Board],
        *,
        coalesce_ms: int,
        stream_maxlen: int,
    ) -> None:
        self._redis = redis
        self._leaderboard = leaderboard
        self._metrics = metrics
        self._coalesce_ms = coalesce_ms
        self._maxlen = stream_maxlen
        self._boards = boards
        self._dirty: set[tuple[str, str]] = set()  # (board, window)
        self._wake = asyncio.Event()
        self._loop = BackgroundLoop(self._run, name="top-publisher")

    def mark_dirty(self, board_id: str, window_id: str) -> None:
        self._dirty.add((board_id, window_id))
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        for board_id, window_id in list(self._dirty):  # a last flush: a clean shutdown loses nothing
            with contextlib.suppress(RedisError, OSError):
                await self.publish_if_changed(board_id, window_id, force_wait=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait_s = 0.0
            for board_id, window_id in list(self._dirty):
                try:
                    waited = await self.publish_if_changed(board_id, window_id)
                except (RedisError, OSError) as error:
                    log.warning("top publish failed; will retry", extra={"error": type(error).__name__})
                    waited = self._coalesce_ms / 1000
                wait_s = max(wait_s, waited)
            if self._dirty:
                await asyncio.sleep(max(wait_s, 0.005))
                self._wake.set()

    async def publish_if_changed(self, board_id: str, window_id: str, *, force_wait: bool = False) -> float:
        """Publish the window's Top 10 if it changed; return how long to wait before retrying."""
        leaderboard = self._leaderboard
        claim = await leaderboard.claim_top_change(board_id, window_id, TOP_SIZE, self._coalesce_ms)
        if isinstance(claim, TooSoon):
            if not force_wait:
                return claim.wait_ms / 1000
            await asyncio.sleep(claim.wait_ms / 1000)
            return await self.publish_if_changed(board_id, window_id)
        self._dirty.discard((board_id, window_id))
        if claim is None:
            return 0.0
        try:
            board = self._boards.get(board_id)
            scores = [int(score) for _, score in claim.rows]
            ranks = (
                shared_ranks(scores, 0, 1) if board and board.shared_ranks else unique_ranks(len(scores), 0)
            )
            entries = await leaderboard.hydrate(claim.rows, ranks)
            payload = leaderboard_updated(board_id, window_id, claim.version, entries)
            await events.append(self._redis, payload, maxlen=self._maxlen)
        except BaseException:
            # Claimed but not published: forget the claim so the next tick publishes it again.
            self._dirty.add((board_id, window_id))
            with contextlib.suppress(RedisError, OSError):
                await leaderboard.forget_top_claim(board_id, window_id)
            raise
        self._metrics.events_published.labels(payload["type"]).inc()
        return 0.0
