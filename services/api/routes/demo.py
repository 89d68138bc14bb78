"""Dev-only routes behind the demo page: a throwaway session and a signing proxy.

A signing key never reaches the browser; here the API itself plays the app's backend, as a real
integration would. Mounted only when `scoreboard dev` sets SCOREBOARD_DEV_SIGNING_ROUTE.
"""

from __future__ import annotations

import time
import uuid
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from scoreboard.domain.errors import Reason, Unauthorized, Unavailable
from scoreboard.domain.text import clean_text
from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.signing import DEFAULT_KEY_ID, canonical_increment, sign
from scoreboard.web.responses import JSONResponse
from services.api.context import context_of
from services.api.guards import authenticate
from services.api.schemas import load_object, read_body


async def page(request: Request) -> Response:
    html = (resources.files("services.api") / "static" / "index.html").read_text()
    return HTMLResponse(html)


async def session(request: Request) -> Response:
    context = context_of(request)
    secret = context.settings.jwt_secret
    if secret is None:
        raise Unavailable("dev sessions need SCOREBOARD_JWT_SECRET", reason=Reason.NO_SIGNING_KEY)
    try:  # the page renews its own player's token; a new visitor gets a new player
        user_id = uuid.UUID(request.query_params.get("userId") or "")
    except ValueError:
        user_id = uuid.uuid4()
    name = clean_text(request.query_params.get("name") or "", 32) or f"Player {str(user_id)[:4]}"
    token = mint_dev_token(
        secret.get_secret_value(),
        user_id=user_id,
        name=name,
        ttl_s=context.settings.jwt_max_ttl_s,
        issuer=context.settings.jwt_issuer,
        audience=context.settings.jwt_audience,
    )
    return JSONResponse(
        {"token": token, "userId": str(user_id), "name": name, "gatewayUrl": context.settings.dev_gateway_url}
    )


async def sign_increment(request: Request) -> Response:
    context = context_of(request)
    principal = await authenticate(request, context)
    data = load_object(await read_body(request))
    if str(data.get("userId")) != str(principal.user_id):
        raise Unauthorized("the dev signer signs only for the caller", reason=Reason.USER_MISMATCH)
    if not context.signing_keys:
        raise Unavailable("no signing key is configured", reason=Reason.NO_SIGNING_KEY)
    key_id = DEFAULT_KEY_ID if DEFAULT_KEY_ID in context.signing_keys else next(iter(context.signing_keys))
    timestamp = str(int(time.time()))
    delta = data.get("delta")
    canonical = canonical_increment(
        user_id=str(data["userId"]),
        action_id=str(data.get("actionId")),
        delta=delta if isinstance(delta, int) else None,
        nonce=str(data.get("nonce")),
        timestamp=timestamp,
    )
    return JSONResponse(
        {"signature": sign(context.signing_keys[key_id], canonical), "keyId": key_id, "timestamp": timestamp}
    )


def routes() -> list[Route]:
    return [
        Route("/", page, methods=["GET"]),
        Route("/dev/session", session, methods=["POST"]),
        Route("/dev/sign", sign_increment, methods=["POST"]),
    ]
