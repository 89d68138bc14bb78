"""One Redis stream reader per process, routing each event to the clients it is for.

ARCHITECTURE.md: Events: the public stream carries state only. A `leaderboard_updated` replaces the
board's Top 10 (services/gateway/board.py) and its pacer sends the newest one to every listener
at most once per interval (services/gateway/pacer.py). A `user_score_updated` goes to its owner's
connections alone, written at once: the fast lane, whose cost does not grow with the listeners.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from redis.exceptions import RedisError

from scoreboard.background import cancel_and_wait
from scoreboard.domain.boards import ALL_TIME_GLOBAL, Board
from scoreboard.domain.events import TOP_SIZE, EventType, leaderboard_updated
from scoreboard.domain.windows import ALL as ALL_TIME
from scoreboard.redis_store import events
from scoreboard.redis_store.events import StreamEvent, stream_id_key
from scoreboard.redis_store.leaderboard import Leaderboard
from scoreboard.telemetry import tracing
from services.gateway.board import BoardState
from services.gateway.frames import Frame, TopOrder, frame
from services.gateway.metrics import GatewayMetrics
from services.gateway.pacer import CHUNK, StatePacer
from services.gateway.state_interval import StateInterval
from services.gateway.subscriber import Subscriber

log = logging.getLogger("scoreboard.gateway.broadcaster")

READ_BLOCK_MS = 5000
RETRY_DELAY_S = 0.5
SWEEP_S = 1.0  # how often stuck writes and expired connections are looked for
ROLL_OVER_SLACK_S = 0.005  # wake just after a boundary, never just before it


class Broadcaster:
    def __init__(
        self,
        redis: Redis,
        reader: Redis,
        metrics: GatewayMetrics,
        interval: StateInterval,
        *,
        boards: Iterable[Board] = (ALL_TIME_GLOBAL,),
        heartbeat_s: float = 15.0,
        send_timeout_s: float = 10.0,
    ) -> None:
        self._redis = redis
        self._reader = reader  # its own connection: XREAD BLOCK holds it for seconds
        boards = list(boards)
        self._leaderboard = Leaderboard(redis, {board.id: board for board in boards})
        self._metrics = metrics
        self.interval = interval
        self.boards = {board.id: BoardState(board) for board in boards}
        sent_top = metrics.sse_events_sent.labels("top")
        self.pacers = {
            board_id: StatePacer(board, interval, sent_top, metrics.sse_state_lag)
            for board_id, board in self.boards.items()
        }
        self._sent_own = metrics.sse_events_sent.labels("user")
        self.subscribers: set[Subscriber] = set()
        self.position = "0-0"  # the last stream id dispatched
        self.healthy = False
        self.draining = False
        self.paused = False  # realtime: false (a runtime flag): services/gateway/flags_watch.py
        self._heartbeat_s = heartbeat_s
        self._send_timeout_s = send_timeout_s
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="stream-reader"),
            asyncio.create_task(self._beat(), name="heartbeat"),
            asyncio.create_task(self._sweep(), name="sweeper"),
            asyncio.create_task(self.interval.probe(), name="loop-lag-probe"),
            *(asyncio.create_task(p.run(), name=f"pacer-{b}") for b, p in self.pacers.items()),
            *(
                asyncio.create_task(self._roll_over(board), name=f"windows-{board.board_id}")
                for board in self.boards.values()
                if board.board.rule.kind != ALL_TIME
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)

    async def _beat(self) -> None:
        """One timer for every connection: a comment line keeps idle streams (and proxies) open."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            subscribers = list(self.subscribers)
            for offset in range(0, len(subscribers), CHUNK):
                if offset:
                    await asyncio.sleep(0)  # own events go first
                for subscriber in subscribers[offset : offset + CHUNK]:
                    subscriber.heartbeat()

    async def _sweep(self) -> None:
        """One timer for every connection: evict writers stuck too long, end expired connections.

        A write in progress records when it started (`write_started`); the sweeper cancels the
        connection's task when that is older than the send timeout (a client that stopped
        reading), which counts as an eviction. Past its lifetime, a waiting connection is woken
        to say goodbye; a busy one says it after its current write.
        """
        loop = asyncio.get_running_loop()
        interval = min(SWEEP_S, self._send_timeout_s / 2)
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            stuck_since = now - self._send_timeout_s
            for subscriber in self.subscribers:
                started = subscriber.write_started
                if started and started < stuck_since:
                    subscriber.evicted = True
                    subscriber.kick()
                elif now >= subscriber.deadline and not subscriber.expired:
                    subscriber.expired = True
                    if subscriber.idle:
                        subscriber.kick()

    def subscribe(self, board_id: str, user_id: str | None) -> Subscriber:
        subscriber = Subscriber(board_id, user_id)
        self.boards[board_id].add(subscriber)
        self.subscribers.add(subscriber)
        self._metrics.sse_connections.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.boards[subscriber.board_id].remove(subscriber)
        self.subscribers.discard(subscriber)
        self._metrics.sse_connections.set(len(self.subscribers))

    def drain(self) -> None:
        """SIGTERM: wake every client so each says goodbye (with a reconnect hint) and closes."""
        self.draining = True
        for subscriber in self.subscribers:
            if subscriber.idle:
                subscriber.kick()  # a busy one says goodbye after its current write

    def pause(self) -> None:
        """Like a drain, but undone by `resume`: the clients say goodbye, new ones are refused."""
        self.paused = True
        for subscriber in self.subscribers:
            if subscriber.idle:
                subscriber.kick()

    def resume(self) -> None:
        self.paused = False

    async def _run(self) -> None:
        while True:
            try:
                if not self.healthy:
                    await self._resync()
                for event in await events.read_after(self._reader, self.position, block_ms=READ_BLOCK_MS):
                    self.dispatch(event)
            except (RedisError, OSError) as error:
                if self.healthy:
                    log.warning("stream reader lost Redis", extra={"error": type(error).__name__})
                self.healthy = False
                await asyncio.sleep(RETRY_DELAY_S)

    async def _resync(self) -> None:
        """(Re)start from the current end of the stream with a fresh Top 10 of every board."""
        _, last_id = await events.first_and_last_ids(self._redis)
        if last_id is not None and stream_id_key(last_id) > stream_id_key(self.position):
            self.position = last_id
        now = datetime.now(UTC)
        for board_id, board in self.boards.items():
            window_id = board.board.window_at(now).id
            shared = board.board.shared_ranks
            entries = await self._leaderboard.top(board_id, window_id, TOP_SIZE, shared=shared) or []
            version = await self._leaderboard.top_version(board_id, window_id)
            self._hold(board, leaderboard_updated(board_id, window_id, version, entries), version)
        self.healthy = True

    def _hold(self, board: BoardState, payload: dict[str, Any], version: int) -> None:
        top = frame(EventType.LEADERBOARD_UPDATED, orjson.dumps(payload), self.position)
        if board.update_top(top, version, payload["window"]):
            self.pacers[board.board_id].changed()

    async def _roll_over(self, board: BoardState) -> None:
        """At each boundary of a windowed board, its listeners get the new window's (empty)
        Top 10 at once, whether or not anything is written or published (ARCHITECTURE.md: Boards and windows).
        The worker's own Top 10 of that window, as soon as it publishes one, is newer."""
        rule = board.board.rule
        while True:
            window = rule.at(datetime.now(UTC))
            assert window.end is not None
            await asyncio.sleep(
                max(0.0, (window.end - datetime.now(UTC)).total_seconds()) + ROLL_OVER_SLACK_S
            )
            following = rule.at(datetime.now(UTC))
            if board.window is None or following.index > board.window.index:
                self._hold(board, leaderboard_updated(board.board_id, following.id, 0, []), 0)

    def dispatch(self, event: StreamEvent) -> None:
        if event.traceparent and tracing.enabled():
            parent = tracing.context_from(event.traceparent)
            with tracing.tracer().start_as_current_span("deliver", context=parent, kind=SpanKind.CONSUMER):
                self._dispatch(event)
        else:
            self._dispatch(event)

    def _dispatch(self, event: StreamEvent) -> None:
        self.position = event.id
        board = self.boards.get(event.board_id)
        if board is None:
            return
        if event.type == EventType.LEADERBOARD_UPDATED:
            version = int(orjson.loads(event.data).get("version", 0))
            if board.update_top(frame(event.type, event.data, event.id), version, event.window_id):
                self.pacers[board.board_id].changed()
            return  # an older Top 10 (two workers raced) is dropped
        # Whatever its `pub` flag says, a user's event is theirs alone (ARCHITECTURE.md: Events).
        owners = board.owners.get(event.user_id or "")
        if not owners:
            return
        shared = frame(event.type, event.data, event.id)
        for subscriber in owners:
            subscriber.offer_own(shared)  # the fast lane: written now, no pacing
        self._sent_own.inc(len(owners))
        if event.committed_us:
            self._metrics.deliver_latency.observe(max(0.0, time.time() - event.committed_us / 1e6))

    def snapshot(self, board_id: str) -> tuple[Frame | None, TopOrder]:
        board = self.boards[board_id]
        return board.top, board.order

    async def missed_since(
        self, last_event_id: str, board_id: str, user_id: str, limit: int
    ) -> list[Frame] | None:
        """The owner's events after last_event_id up to our position; None when that id is gone."""
        try:
            wanted = stream_id_key(last_event_id)
        except ValueError:
            return None
        first_id, _ = await events.first_and_last_ids(self._redis)
        if first_id is None or wanted < stream_id_key(first_id) or wanted > stream_id_key(self.position):
            return None
        missed = await events.range_after(self._redis, last_event_id, self.position, count=limit + 1)
        if len(missed) > limit:
            return None
        return [
            frame(e.type, e.data, e.id)
            for e in missed
            if e.board_id == board_id and e.type != EventType.LEADERBOARD_UPDATED and e.user_id == user_id
        ]
