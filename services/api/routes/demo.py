"""Dev-only routes behind the demo page: a throwaway session and a signing proxy.

A signing key never reaches the browser; here the API itself plays the app's backend, as a real
integration would. Mounted only when `scoreboard dev` sets SCOREBOARD_DEV_SIGNING_ROUTE, and
answered only to loopback clients (they mint tokens and sign for their caller) unless
SCOREBOARD_DEV_ROUTES_ALLOW_REMOTE_INSECURE is set.
"""

from __future__ import annotations

import time
import uuid
from importlib import resources
from ipaddress import ip_address

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from scoreboard.domain.errors import NotFound, Reason, Unauthenticated, Unauthorized, Unavailable
from scoreboard.domain.text import clean_text
from scoreboard.security.bearer import mint_dev_token, renewable_dev_subject
from scoreboard.security.signing import DEFAULT_KEY_ID, canonical_increment, sign
from scoreboard.web.client_ip import client_ip
from scoreboard.web.responses import JSONResponse
from services.api.context import ApiContext, context_of
from services.api.guards import authenticate
from services.api.request_body import load_object, read_body

# The page renews its player's token when it has expired; a token older than this starts over.
RENEWAL_GRACE_S = 7 * 86_400


def _dev_context(request: Request) -> ApiContext:
    """The context, once the caller is known to be local (or remote callers were allowed)."""
    context = context_of(request)
    if context.settings.dev_routes_allow_remote_insecure:
        return context
    address = client_ip(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        context.settings.trusted_proxies,
    )
    try:
        local = ip_address(address).is_loopback
    except ValueError:
        local = False
    if not local:
        raise NotFound(
            "dev routes answer loopback clients only (SCOREBOARD_DEV_ROUTES_ALLOW_REMOTE_INSECURE)"
        )
    return context


async def page(request: Request) -> Response:
    _dev_context(request)
    html = (resources.files("services.api") / "static" / "index.html").read_text()
    return HTMLResponse(html)


async def session(request: Request) -> Response:
    """A new player, or, with the current (even expired) token as bearer, the same player again."""
    context = _dev_context(request)
    secret = context.settings.jwt_secret
    if secret is None:
        raise Unavailable("dev sessions need SCOREBOARD_JWT_SECRET", reason=Reason.NO_SIGNING_KEY)
    scheme, _, current = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and current.strip():
        user_id, old_name = renewable_dev_subject(
            secret.get_secret_value(), current.strip(), grace_s=RENEWAL_GRACE_S
        )
    elif scheme:
        raise Unauthenticated("renewing a session needs its current token as a bearer token")
    else:
        user_id, old_name = uuid.uuid4(), ""
    name = clean_text(request.query_params.get("name") or "", 32) or old_name or f"Player {str(user_id)[:4]}"
    token = mint_dev_token(
        secret.get_secret_value(),
        user_id=user_id,
        name=name,
        ttl_s=context.settings.jwt_max_ttl_s,
        issuer=context.settings.jwt_issuer,
        audience=context.settings.jwt_audience,
    )
    gateway = context.settings.dev_gateway_url
    return JSONResponse(
        {"token": token, "userId": str(user_id), "name": name, "gatewayUrl": gateway},
        headers={"Cache-Control": "no-store"},
    )


async def sign_increment(request: Request) -> Response:
    context = _dev_context(request)
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
