"""The two write routes of every player action (a ticket, then the increment), served before
Starlette's routing and middleware.

Every action is two POSTs, and Starlette's layers (its error middleware, the router, the
exception middleware, the per-route wrappers) cost a share of each that the handlers do not
need. Here the same handlers run in the same request context as every other entry point
(scoreboard/web/request_context.py: id, CORS, metrics, access log, the documented 500), their
refusals answered by the stack's own handlers (scoreboard/web/errors.py), inside the trace when
tracing is on. Any other method or path goes through the full stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreboard.domain.errors import ScoreboardError
from scoreboard.web.errors import handle_domain_error, handle_http_error
from scoreboard.web.request_context import HttpPolicy
from services.api.routes import actions, increments

Endpoint = Callable[[Request], Awaitable[Response]]
WRITE_ROUTES: dict[str, Endpoint] = {
    "/api/actions": actions.create_action,
    "/api/scores/increment": increments.increment_score,
}


class WriteFastPath:
    def __init__(self, app: ASGIApp, policy: HttpPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = WRITE_ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        route = scope["path"]
        context = self.policy.begin(scope)
        try:
            try:
                response = await _answer(endpoint, Request(scope, receive))
            except Exception as error:  # what InternalErrors answers in the stack
                await context.send_internal_error(send, error, route=route)
                return
            await context.send_response(send, response)  # a failure now goes on to the server
        finally:
            context.finish(route)


async def _answer(endpoint: Endpoint, request: Request) -> Response:
    try:
        return await endpoint(request)
    except ScoreboardError as refused:
        return await handle_domain_error(request, refused)
    except HTTPException as error:
        return await handle_http_error(request, error)
