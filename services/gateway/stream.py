"""GET /api/realtime/stream: the Top 10 now, then its newest state, paced; with `?token=` also the
owner's own events at once. Resumable with Last-Event-ID.

Served as a bare ASGI app, outside Starlette's middleware stack (services/gateway/app.py): every
frame of a long stream would otherwise pass through each middleware's `send` wrapper. The
request context every entry point shares (scoreboard/web/request_context.py) does, once per
connection, what that stack does for the other routes: the request id, the CORS headers, the
request metrics and access log line, the `{code, message, details}` refusals with their audit
line, and the documented 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from scoreboard.domain.boards import known_board
from scoreboard.domain.errors import Reason, ScoreboardError, Unavailable
from scoreboard.redis_store.events import stream_id_key
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.web.client_ip import client_ip
from scoreboard.web.request_context import HttpPolicy, RequestContext
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import retry_frame
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings
from services.gateway.sse_response import HEADERS, SubscriberStream
from services.gateway.subscriber import Subscriber

PATH = "/api/realtime/stream"
MAINTENANCE_RETRY_AFTER_S = 10


class StreamEndpoint:
    def __init__(
        self,
        settings: GatewaySettings,
        broadcaster: Broadcaster,
        tokens: RealtimeTokens,
        metrics: GatewayMetrics,
        policy: HttpPolicy,
    ) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self.tokens = tokens
        self.metrics = metrics
        self.policy = policy
        self.boards = broadcaster.boards

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = self.policy.begin(scope)
        try:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            try:
                stream = await self._open(query, request)
            except ScoreboardError as error:
                await request.send_error(send, error, route=PATH, user_id=None, ip=self._client_ip(request))
                return
            except Exception as error:
                await request.send_internal_error(send, error, route=PATH)
                return
            request.stream_opened()
            await stream(receive, send)
        finally:
            request.finish(PATH)

    async def _open(self, query: dict[str, str], request: RequestContext) -> SubscriberStream:
        board = known_board(query.get("board"), self.boards)  # 400 or 404 before anything else
        token = query.get("token")
        user_id = str(self.tokens.verify(token)) if token else None  # 401 before the stream opens
        if self.broadcaster.paused:
            raise Unavailable(
                "the realtime stream is switched off for maintenance; poll GET /api/leaderboard/top",
                reason=Reason.MAINTENANCE,
                retry_after_s=MAINTENANCE_RETRY_AFTER_S,
            )
        if self.broadcaster.draining or not self.broadcaster.healthy:
            raise Unavailable(
                "the realtime stream is unavailable; poll GET /api/leaderboard/top meanwhile",
                reason=Reason.STREAM_UNAVAILABLE,
                retry_after_s=2,
            )
        # Subscribed before the greeting is built: nothing dispatched meanwhile is missed.
        subscriber = self.broadcaster.subscribe(board, user_id)
        try:
            last_event_id = request.headers.get(b"last-event-id", b"").decode("latin-1") or query.get(
                "lastEventId"
            )
            initial = await self._initial_frames(last_event_id, subscriber)
        except BaseException:
            self.broadcaster.unsubscribe(subscriber)
            raise
        jitter = random.uniform(0.9, 1.0)  # noqa: S311 - spreads reconnects, not a secret
        subscriber.deadline = asyncio.get_running_loop().time() + self.settings.sse_max_lifetime_s * jitter
        return SubscriberStream(
            subscriber,
            initial,
            headers=await request.response_headers(HEADERS),
            draining=lambda: self.broadcaster.draining or self.broadcaster.paused,
            goodbye=self._goodbye,
            on_close=self._closed,
        )

    async def _initial_frames(self, last_event_id: str | None, subscriber: Subscriber) -> list[bytes]:
        """A reconnect hint, the owner's events missed since Last-Event-ID, then the newest Top 10."""
        frames = [retry_frame(self.settings.sse_retry_ms, "welcome")]
        if last_event_id and subscriber.user_id:
            missed = await self.broadcaster.missed_since(
                last_event_id, subscriber.board_id, subscriber.user_id, self.settings.sse_replay_limit
            )
            for item in missed or ():
                if subscriber.news_to_owner(item):
                    frames.append(item.payload)
            if missed:
                subscriber.skip_until = missed[-1].id_key  # read while we replayed: already in it
        if last_event_id:
            with contextlib.suppress(ValueError):  # resumed from a gateway ahead of this one
                subscriber.skip_until = max(subscriber.skip_until, stream_id_key(last_event_id))
        if subscriber.own is not None and subscriber.own.id_key <= subscriber.skip_until:
            subscriber.own = None
        # From here to the return nothing awaits: no pass can slip between the snapshot and its
        # record, so the pacer sends this client only a newer Top 10, an interval from now.
        top, version = self.broadcaster.snapshot(subscriber.board_id)
        if top is not None:
            frames.append(top.payload)
            subscriber.top, subscriber.top_version = None, version
            subscriber.top_at = asyncio.get_running_loop().time()
        return frames

    def _client_ip(self, request: RequestContext) -> str:
        peer = request.scope.get("client")
        forwarded = request.headers.get(b"x-forwarded-for")
        return client_ip(
            peer[0] if peer else None,
            forwarded.decode("latin-1") if forwarded else None,
            self.settings.trusted_proxies,
        )

    def _closed(self, subscriber: Subscriber, evicted: bool) -> None:
        if evicted:  # it stopped reading
            self.metrics.sse_evictions.inc()
        self.broadcaster.unsubscribe(subscriber)

    def _goodbye(self, reason: str) -> bytes:
        jittered = int(self.settings.sse_retry_ms * random.uniform(0.5, 1.5))  # noqa: S311
        return retry_frame(jittered, reason)
