"""GET /api/realtime/stream: the Top 10 now, then its newest state, paced; with `?token=` also the
owner's own events at once. Resumable with Last-Event-ID.

Served as a bare ASGI app, outside Starlette's middleware stack (services/gateway/app.py): every
frame of a long stream would otherwise pass through each middleware's `send` wrapper. What that
stack does for the other routes is done here once per connection: the request id, CORS headers,
the request metrics and access log line, and the `{code, message, details}` error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from scoreboard.domain.boards import known_board
from scoreboard.domain.errors import ErrorCode, Reason, ScoreboardError, Unavailable
from scoreboard.redis_store.events import stream_id_key
from scoreboard.security.masking import mask_ip
from scoreboard.security.realtime_tokens import RealtimeTokens
from scoreboard.telemetry.logging import request_id_var
from scoreboard.web.client_ip import client_ip
from scoreboard.web.errors import error_body, error_response
from scoreboard.web.middleware import RequestIds, RequestLog
from scoreboard.web.responses import JSONResponse
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import retry_frame
from services.gateway.metrics import GatewayMetrics as Metrics  # the gateway's own set
from services.gateway.settings import GatewaySettings
from services.gateway.sse_response import HEADERS, SubscriberStream
from services.gateway.subscriber import Subscriber

PATH = "/api/realtime/stream"

audit_log = logging.getLogger("scoreboard.audit")
error_log = logging.getLogger("scoreboard.api")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])  # the last one of a repeated header wins; none here repeat


class StreamEndpoint:
    def __init__(
        self, settings: GatewaySettings, broadcaster: Broadcaster, tokens: RealtimeTokens, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self.tokens = tokens
        self.metrics = metrics
        self.boards = broadcaster.boards
        origins = settings.cors_origins or []
        self._cors = bool(origins)
        self._any_origin = "*" in origins
        self._origins = {origin.encode("latin-1") for origin in origins}
        self.log = RequestLog(metrics, settings.access_log)
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = _headers(scope)
        request_id = self.ids.for_request(headers.get(b"x-request-id"))
        context = request_id_var.set(request_id)
        response_headers = [(b"x-request-id", request_id.encode()), *self._cors_headers(headers)]
        status = 500
        try:
            stream = await self._prepare(scope, headers, response_headers, send)
            if isinstance(stream, int):
                status = stream  # refused
            else:
                status = 200
                await stream(receive, send)
        finally:
            self.log.record(PATH, scope["method"], status, time.perf_counter() - started)
            request_id_var.reset(context)

    async def _prepare(
        self,
        scope: Scope,
        headers: dict[bytes, bytes],
        response_headers: list[tuple[bytes, bytes]],
        send: Send,
    ) -> SubscriberStream | int:
        """The stream to run, or the status of the error response already sent instead."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        try:
            stream = await self._open(query, headers, response_headers)
        except ScoreboardError as error:
            return await self._reject(error, self._client_ip(scope, headers), response_headers, send)
        except Exception as error:
            error_log.error("unhandled error", exc_info=error, extra={"route": PATH})
            response = JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "internal error"), status_code=500)
            return await _send_json(send, 500, response, response_headers)
        return stream

    async def _open(
        self, query: dict[str, str], headers: dict[bytes, bytes], response_headers: list[tuple[bytes, bytes]]
    ) -> SubscriberStream:
        board = known_board(query.get("board"), self.boards)  # 400 or 404 before anything else
        token = query.get("token")
        user_id = str(self.tokens.verify(token)) if token else None  # 401 before the stream opens
        if self.broadcaster.draining or not self.broadcaster.healthy:
            raise Unavailable(
                "the realtime stream is unavailable; poll GET /api/leaderboard/top meanwhile",
                reason=Reason.STREAM_UNAVAILABLE,
                retry_after_s=2,
            )
        # Subscribed before the greeting is built: nothing dispatched meanwhile is missed.
        subscriber = self.broadcaster.subscribe(board, user_id)
        try:
            last_event_id = headers.get(b"last-event-id", b"").decode("latin-1") or query.get("lastEventId")
            initial = await self._initial_frames(last_event_id, subscriber)
        except BaseException:
            self.broadcaster.unsubscribe(subscriber)
            raise
        jitter = random.uniform(0.9, 1.0)  # noqa: S311 - spreads reconnects, not a secret
        subscriber.deadline = asyncio.get_running_loop().time() + self.settings.sse_max_lifetime_s * jitter
        return SubscriberStream(
            subscriber,
            initial,
            headers=[*HEADERS, *response_headers],
            draining=lambda: self.broadcaster.draining,
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
            if missed:
                frames.extend(item.payload for item in missed)
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

    def _client_ip(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        return client_ip(
            peer[0] if peer else None,
            forwarded.decode("latin-1") if forwarded else None,
            self.settings.trusted_proxies,
        )

    async def _reject(
        self, error: ScoreboardError, ip: str, response_headers: list[tuple[bytes, bytes]], send: Send
    ) -> int:
        response = error_response(error, getattr(error, "status_override", None))
        audit_log.info(
            "rejected",
            extra={
                "code": error.code.value,
                "reason": error.details.get("reason"),
                "status": response.status_code,
                "route": PATH,
                "user_id": None,
                "ip": mask_ip(ip),
            },
        )
        return await _send_json(send, response.status_code, response, response_headers)

    def _cors_headers(self, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """What Starlette's CORSMiddleware adds to a simple (non-preflight) response."""
        if not self._cors:
            return []
        origin = headers.get(b"origin")
        if origin is not None and self._any_origin:
            return [(b"access-control-allow-origin", b"*")]
        if origin is not None and origin in self._origins:
            return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        return [(b"vary", b"Origin")]

    def _closed(self, subscriber: Subscriber, evicted: bool) -> None:
        if evicted:  # it stopped reading
            self.metrics.sse_evictions.inc()
        self.broadcaster.unsubscribe(subscriber)

    def _goodbye(self, reason: str) -> bytes:
        jittered = int(self.settings.sse_retry_ms * random.uniform(0.5, 1.5))  # noqa: S311
        return retry_frame(jittered, reason)


async def _send_json(
    send: Send, status: int, response: JSONResponse, extra: list[tuple[bytes, bytes]]
) -> int:
    headers = [*response.raw_headers, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
    return status
