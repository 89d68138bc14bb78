"""GET /api/realtime/stream: the Top 10 now, then every update; resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import random

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.errors import Reason, Unavailable
from scoreboard.redis_store.events import stream_id_key
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.telemetry.metrics import Metrics
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import retry_frame
from services.gateway.settings import GatewaySettings
from services.gateway.sse_response import SubscriberStream
from services.gateway.subscriber import Subscriber


class StreamEndpoint:
    def __init__(
        self, settings: GatewaySettings, broadcaster: Broadcaster, tokens: RealtimeTokens, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self.tokens = tokens
        self.metrics = metrics

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
        jitter = random.uniform(0.9, 1.0)  # noqa: S311 - spreads reconnects, not a secret
        return SubscriberStream(
            subscriber,
            initial,
            deadline=asyncio.get_running_loop().time() + self.settings.sse_max_lifetime_s * jitter,
            send_timeout_s=self.settings.sse_send_timeout_s,
            draining=lambda: self.broadcaster.draining,
            goodbye=self._goodbye,
            on_close=self._closed,
        )

    async def _initial_frames(
        self, request: Request, subscriber: Subscriber, user_id: str | None
    ) -> list[bytes]:
        """A reconnect hint, then what the client missed (Last-Event-ID) or a Top 10 snapshot."""
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

    def _closed(self, subscriber: Subscriber, stuck: bool) -> None:
        if subscriber.overflowed or stuck:  # evicted: it stopped reading
            self.metrics.sse_evictions.inc()
        self.broadcaster.unsubscribe(subscriber)

    def _goodbye(self, reason: str) -> bytes:
        jittered = int(self.settings.sse_retry_ms * random.uniform(0.5, 1.5))  # noqa: S311
        return retry_frame(jittered, reason)
