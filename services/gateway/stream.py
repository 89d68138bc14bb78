"""GET /api/realtime/stream: the Top 10 now, then every update; resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.redis_store.events import stream_id_key
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.telemetry.metrics import Metrics
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import Frame, retry_frame
from services.gateway.settings import GatewaySettings
from services.gateway.subscriber import Subscriber


class StreamEndpoint:
    def __init__(
        self,
        settings: GatewaySettings,
        broadcaster: Broadcaster,
        tokens: RealtimeTokens,
        metrics: Metrics,
        shutdown: anyio.Event,
    ) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self.tokens = tokens
        self.metrics = metrics
        self.shutdown = shutdown

    async def handle(self, request: Request) -> Response:
        token = request.query_params.get("token")
        user_id = str(self.tokens.verify(token)) if token else None  # 401 before the stream opens
        if self.broadcaster.draining or not self.broadcaster.healthy:
            raise Unavailable(
                "the realtime stream is unavailable; poll GET /api/leaderboard/top meanwhile",
                reason=Reason.STREAM_UNAVAILABLE,
                retry_after_s=2,
            )
        subscriber = self.broadcaster.subscribe(user_id, self.settings.sse_client_buffer)
        try:
            initial = await self._initial_frames(request, subscriber, user_id)
        except BaseException:
            self.broadcaster.unsubscribe(subscriber)
            raise
        return EventSourceResponse(
            self._frames(subscriber, initial),
            ping=self.settings.sse_heartbeat_s,
            send_timeout=self.settings.sse_send_timeout_s,
            headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
            shutdown_event=self.shutdown,
            shutdown_grace_period=self.settings.sse_drain_grace_s,
        )

    async def _initial_frames(
        self, request: Request, subscriber: Subscriber, user_id: str | None
    ) -> list[bytes]:
        position = self.broadcaster.position
        snapshot = self.broadcaster.snapshot
        last_event_id = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        retry = retry_frame(self.settings.sse_retry_ms, "welcome")
        if last_event_id:
            try:
                if stream_id_key(last_event_id) >= stream_id_key(position):
                    subscriber.skip_until = stream_id_key(last_event_id)
                    return [retry]  # nothing missed (or we are behind the gateway it came from)
            except ValueError:
                pass
            missed = await self.broadcaster.missed_since(
                last_event_id, user_id, self.settings.sse_replay_limit
            )
            if missed is not None:
                return [retry, *(item.payload for item in missed)]
        return [retry, snapshot.payload] if snapshot else [retry]

    async def _frames(self, subscriber: Subscriber, initial: list[bytes]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        jitter = random.uniform(0.9, 1.0)  # noqa: S311 - spreads the reconnects, not a secret
        deadline = loop.time() + self.settings.sse_max_lifetime_s * jitter
        writing_since: float | None = None
        try:
            for payload in initial:
                yield payload
            while not subscriber.overflowed:
                if self.broadcaster.draining:
                    yield self._goodbye("server draining")
                    return
                try:
                    async with asyncio.timeout_at(deadline):
                        await subscriber.wake.wait()
                except TimeoutError:
                    yield self._goodbye("connection lifetime reached")
                    return
                for item in subscriber.take():
                    writing_since = loop.time()
                    yield self._deliver(item)
                    writing_since = None
        finally:
            # Evicted: its buffer overflowed, or a write stayed blocked until the send timeout.
            timeout = self.settings.sse_send_timeout_s
            stuck = writing_since is not None and loop.time() - writing_since >= timeout
            if subscriber.overflowed or stuck:
                self.metrics.sse_evictions.inc()
            self.broadcaster.unsubscribe(subscriber)

    def _deliver(self, item: Frame) -> bytes:
        self.metrics.sse_events_sent.labels("top" if item.is_top else "user").inc()
        return item.payload

    def _goodbye(self, reason: str) -> bytes:
        jittered = int(self.settings.sse_retry_ms * random.uniform(0.5, 1.5))  # noqa: S311
        return retry_frame(jittered, reason)
