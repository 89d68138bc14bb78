"""One Redis stream reader per process, fanning each event out to in-memory subscribers.

The reader keeps the latest Top 10 as a ready-made frame, so a new client gets its snapshot
without touching Redis, and the stream position it was taken at, so a resume is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from redis.exceptions import RedisError

from scoreboard.domain.events import TOP_SIZE, EventType, leaderboard_updated
from scoreboard.domain.models import DEFAULT_BOARD
from scoreboard.redis_store import events
from scoreboard.redis_store.events import StreamEvent, stream_id_key
from scoreboard.redis_store.leaderboard import Leaderboard
from scoreboard.telemetry import tracing
from scoreboard.telemetry.metrics import Metrics
from services.gateway.frames import Frame, frame
from services.gateway.subscriber import Subscriber

log = logging.getLogger("scoreboard.gateway.broadcaster")

READ_BLOCK_MS = 5000
RETRY_DELAY_S = 0.5
SWEEP_S = 1.0  # how often stuck writes and expired connections are looked for


class Broadcaster:
    def __init__(
        self,
        redis: Redis,
        reader: Redis,
        metrics: Metrics,
        *,
        board_id: str = DEFAULT_BOARD,
        heartbeat_s: float = 15.0,
        send_timeout_s: float = 10.0,
    ) -> None:
        self._redis = redis
        self._reader = reader  # its own connection: XREAD BLOCK holds it for seconds
        self._leaderboard = Leaderboard(redis)
        self._metrics = metrics
        self.board_id = board_id
        self.subscribers: set[Subscriber] = set()
        self._by_user: dict[str, set[Subscriber]] = {}
        self.position = "0-0"  # the last stream id dispatched
        self.snapshot: Frame | None = None
        self._snapshot_version = -1
        self.healthy = False
        self.draining = False
        self._heartbeat_s = heartbeat_s
        self._send_timeout_s = send_timeout_s
        self._sent = {kind: metrics.sse_events_sent.labels(kind) for kind in ("top", "user")}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="stream-reader"),
            asyncio.create_task(self._beat(), name="heartbeat"),
            asyncio.create_task(self._sweep(), name="sweeper"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self) -> None:
        """One timer for every connection: a comment line keeps idle streams (and proxies) open."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            for subscriber in self.subscribers:
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

    def subscribe(self, user_id: str | None, capacity: int) -> Subscriber:
        subscriber = Subscriber(user_id, capacity)
        self.subscribers.add(subscriber)
        if user_id:
            self._by_user.setdefault(user_id, set()).add(subscriber)
        self._metrics.sse_connections.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if subscriber.user_id and (owners := self._by_user.get(subscriber.user_id)):
            owners.discard(subscriber)
            if not owners:
                del self._by_user[subscriber.user_id]
        self._metrics.sse_connections.set(len(self.subscribers))

    def drain(self) -> None:
        """SIGTERM: wake every client so each says goodbye (with a reconnect hint) and closes."""
        self.draining = True
        for subscriber in self.subscribers:
            if subscriber.idle:
                subscriber.kick()  # a busy one says goodbye after its current write

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
        """(Re)start from the current end of the stream with a fresh Top 10 snapshot."""
        _, last_id = await events.first_and_last_ids(self._redis)
        if last_id is not None and stream_id_key(last_id) > stream_id_key(self.position):
            self.position = last_id
        entries = await self._leaderboard.top(self.board_id, TOP_SIZE) or []
        version = await self._leaderboard.top_version(self.board_id)
        if version >= self._snapshot_version:
            payload = orjson.dumps(leaderboard_updated(self.board_id, version, entries))
            self._set_snapshot(payload, version)
        self.healthy = True

    def _set_snapshot(self, data: bytes, version: int) -> Frame:
        self._snapshot_version = version
        self.snapshot = frame(EventType.LEADERBOARD_UPDATED, data, self.position, is_top=True)
        return self.snapshot

    def dispatch(self, event: StreamEvent) -> None:
        if event.traceparent and tracing.enabled():
            parent = tracing.context_from(event.traceparent)
            with tracing.tracer().start_as_current_span(
                "deliver", context=parent, kind=SpanKind.CONSUMER
            ) as span:
                span.set_attribute("scoreboard.subscribers", len(self.subscribers))
                self._dispatch(event)
        else:
            self._dispatch(event)

    def _dispatch(self, event: StreamEvent) -> None:
        self.position = event.id
        if event.board_id != self.board_id:
            return
        if event.type == EventType.LEADERBOARD_UPDATED:
            version = int(orjson.loads(event.data).get("version", 0))
            if version <= self._snapshot_version:
                return  # an older Top 10 than we already sent (two workers raced)
            self._snapshot_version = version
            self.snapshot = frame(
                event.type, event.data, event.id, committed_us=event.committed_us, is_top=True
            )
            targets: set[Subscriber] | list[Subscriber] = self.subscribers
            shared = self.snapshot
        else:
            shared = frame(event.type, event.data, event.id, committed_us=event.committed_us)
            targets = self.subscribers if event.public else list(self._by_user.get(event.user_id or "", ()))
        for subscriber in targets:
            subscriber.offer(shared)  # written inline to every client whose socket keeps up
        self._sent["top" if shared.is_top else "user"].inc(len(targets))
        if event.committed_us:
            self._metrics.deliver_latency.observe(max(0.0, time.time() - event.committed_us / 1e6))

    async def missed_since(self, last_event_id: str, user_id: str | None, limit: int) -> list[Frame] | None:
        """Frames after last_event_id up to our position, or None when a snapshot must replace them."""
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
            frame(e.type, e.data, e.id, is_top=e.type == EventType.LEADERBOARD_UPDATED)
            for e in missed
            if e.board_id == self.board_id and (e.public or (user_id is not None and e.user_id == user_id))
        ]
