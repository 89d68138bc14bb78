"""One request context for every HTTP entry point: the middleware stack, the Top-N fast path
ahead of it, and the gateway's SSE stream (which runs outside Starlette, see
services/gateway/app.py).

Around its own work, each of them does the same things, here and only here: give the request
an id (the client's when sane) for the response and every log line; add the CORS headers of a
simple response (Starlette's CORSMiddleware decides them: it is used as the policy, not as a
layer); answer a refusal with the `{code, message, details}` body and one audit line, and an
unexpected failure with the documented 500; count and time the request by route, and log it
when it failed or was slow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoreboard.domain.errors import ErrorCode, ScoreboardError
from scoreboard.telemetry import tracing
from scoreboard.telemetry.logging import request_id_var
from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.errors import InternalErrors, audit_rejection, error_body, error_response
from scoreboard.web.middleware import REQUEST_ID_SCOPE_KEY, AccessLog, RequestIds, RequestLog
from scoreboard.web.responses import JSONResponse

RawHeaders = list[tuple[bytes, bytes]]
CORS_MEMO_SIZE = 1024

error_log = logging.getLogger("scoreboard.errors")


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    raise RuntimeError("a CORS policy is never called as an app")


class CorsPolicy:
    """Starlette's CORSMiddleware, configured once, asked for headers instead of wrapping an app."""

    def __init__(
        self,
        origins: Sequence[str],
        *,
        methods: Sequence[str],
        headers: Sequence[str],
        expose: Sequence[str] = (),
    ) -> None:
        self._cors = CORSMiddleware(
            _no_app,
            allow_origins=origins,
            allow_methods=methods,
            allow_headers=headers,
            expose_headers=expose,
        )
        self._memo: dict[tuple[Hashable, bytes | None], RawHeaders] = {}

    @staticmethod
    def is_preflight(scope: Scope, headers: dict[bytes, bytes]) -> bool:
        return scope["method"] == "OPTIONS" and b"access-control-request-method" in headers

    def preflight(self, headers: dict[bytes, bytes]) -> Response:
        return self._cors.preflight_response(Headers(raw=list(headers.items())))

    async def simple_headers(
        self, base: RawHeaders, origin: bytes | None, memo_key: Hashable | None = None
    ) -> RawHeaders:
        """`base` with what CORSMiddleware adds to a simple response for this Origin.

        With a `memo_key` naming `base` (a cached Top-N body's ETag and status, say), the result
        is remembered per (key, origin), bounded: a poll then costs a dict lookup.
        """
        key = (memo_key, origin)
        found = self._memo.get(key) if memo_key is not None else None
        if found is not None:
            return found
        message: Message = {"type": "http.response.start", "status": 200, "headers": list(base)}
        request = Headers(raw=[(b"origin", origin)] if origin is not None else [])

        async def keep(sent: Message) -> None:
            return None

        await self._cors.send(message, send=keep, request_headers=request)
        headers: RawHeaders = message["headers"]
        if memo_key is not None:
            if len(self._memo) >= CORS_MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = headers
        return headers


class HttpPolicy:
    """What one process's entry points share: the id source, the request log, the CORS policy."""

    def __init__(self, metrics: Metrics, access: AccessLog, cors: CorsPolicy | None) -> None:
        self.ids = RequestIds()
        self.log = RequestLog(metrics, access)
        self.cors = cors

    def begin(self, scope: Scope, headers: dict[bytes, bytes] | None = None) -> RequestContext:
        return RequestContext(self, scope, headers)


class RequestContext:
    """One request: started by `HttpPolicy.begin`, ended by `finish` (always, in a finally)."""

    __slots__ = ("_token", "headers", "opened", "policy", "request_id", "scope", "started", "status")

    def __init__(self, policy: HttpPolicy, scope: Scope, headers: dict[bytes, bytes] | None = None) -> None:
        self.policy = policy
        self.scope = scope
        # A repeated header: the last one wins (none of those read here may repeat).
        self.headers = dict(scope["headers"]) if headers is None else headers
        self.request_id = policy.ids.for_request(self.headers.get(b"x-request-id"))
        scope[REQUEST_ID_SCOPE_KEY] = self.request_id
        self._token = request_id_var.set(self.request_id)
        self.started = time.perf_counter()
        self.opened: float | None = None  # a long-lived response: when it opened
        self.status = 500  # until a response starts

    async def response_headers(self, base: RawHeaders, memo_key: Hashable | None = None) -> RawHeaders:
        """The headers of this request's response: `base`, CORS, and the request id."""
        cors = self.policy.cors
        if cors is not None:
            base = await cors.simple_headers(base, self.headers.get(b"origin"), memo_key)
        return [*base, (b"x-request-id", self.request_id.encode())]

    async def send_start(
        self, send: Send, status: int, base: RawHeaders, memo_key: Hashable | None = None
    ) -> None:
        self.status = status
        headers = await self.response_headers(base, memo_key)
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def send_response(self, send: Send, response: Response) -> int:
        await self.send_start(send, response.status_code, response.raw_headers)
        await send({"type": "http.response.body", "body": response.body, "more_body": False})
        return response.status_code

    async def send_error(
        self, send: Send, error: ScoreboardError, *, route: str, user_id: str | None, ip: str | None
    ) -> int:
        """A refusal: the documented body and one audit line."""
        response = error_response(error, getattr(error, "status_override", None))
        audit_rejection(error, response.status_code, route=route, user_id=user_id, ip=ip)
        return await self.send_response(send, response)

    async def send_internal_error(self, send: Send, error: BaseException, *, route: str) -> int:
        error_log.error("unhandled error", exc_info=error, extra={"route": route})
        response = JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "internal error"), status_code=500)
        return await self.send_response(send, response)

    def stream_opened(self) -> None:
        """A long-lived response (an SSE stream) has started: it is timed, counted and logged
        as slow or not by how long it took to open, not by how long the client stayed."""
        self.status = 200
        self.opened = time.perf_counter()

    def finish(self, route: str) -> None:
        ended = self.opened if self.opened is not None else time.perf_counter()
        self.policy.log.record(route, self.scope["method"], self.status, ended - self.started)
        request_id_var.reset(self._token)


class RequestContextMiddleware:
    """The request context for everything routed by Starlette, and CORS preflights."""

    def __init__(self, app: ASGIApp, policy: HttpPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = self.policy.begin(scope)
        cors = self.policy.cors
        try:
            if cors is not None and cors.is_preflight(scope, context.headers):
                await context.send_response(send, cors.preflight(context.headers))
                return

            async def send_in_context(message: Message) -> None:
                if message["type"] == "http.response.start":
                    context.status = message["status"]
                    message["headers"] = await context.response_headers(list(message.get("headers", [])))
                await send(message)

            await self.app(scope, receive, send_in_context)
        finally:
            context.finish(getattr(scope.get("route"), "path", "unmatched"))


def middleware_stack(policy: HttpPolicy, *ahead: Middleware) -> list[Middleware]:
    """Every service's stack: tracing outermost (when on), then `ahead` (fast paths answering
    before the stack, inside the trace), the request context, and the documented 500 innermost
    (its 500s then pass the request context, so they carry the id and the CORS headers)."""
    stack = [*ahead, Middleware(RequestContextMiddleware, policy=policy), Middleware(InternalErrors)]
    if tracing.enabled():
        stack.insert(0, Middleware(OpenTelemetryMiddleware, excluded_urls=tracing.UNTRACED_URLS))
    return stack


def cors_policy(
    origins: Sequence[str], *, methods: Sequence[str], headers: Sequence[str], expose: Sequence[str] = ()
) -> CorsPolicy | None:
    return CorsPolicy(origins, methods=methods, headers=headers, expose=expose) if origins else None
