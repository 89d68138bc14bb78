"""GET /admin: the operators' page, and the routes under /admin/ that sign it in and out.

The page is static (HTML, a script, a style sheet; no build step) and calls /api/admin/* from
the same origin. Its script and styles are files of their own so that the page's
Content-Security-Policy can forbid every inline script and style. The routes under /admin/ are
the page's plumbing, not part of the API (they are not in the OpenAPI document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from scoreboard.domain.errors import Unauthenticated
from scoreboard.web.responses import JSONResponse
from services.api import admin_session
from services.api.admin_oidc import AdminOidc
from services.api.context import context_of
from services.api.csrf import check_page_write
from services.api.settings import ApiSettings

ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",  # an admin page inside another site's frame invites clickjacking
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _static(name: str) -> bytes:
    return (resources.files("services.api") / "static" / name).read_bytes()


def _asset(content: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def asset(request: Request) -> Response:
        return Response(content, media_type=media_type, headers=SECURITY_HEADERS)

    return asset


async def _session_answer(request: Request, oidc: bool) -> Response:
    """Whether the page has a session, and the CSRF token its writes must carry."""
    try:
        identity = await admin_session.active(request, context_of(request).redis)
    except Unauthenticated:
        identity = None  # it has ended: signed out
    body = {
        "oidc": oidc,
        "signedIn": identity is not None,
        "user": {"userId": identity.user_id, "name": identity.name} if identity else None,
        "csrfToken": identity.csrf if identity else None,
        "expiresAt": int(identity.expires_at * 1000) if identity else None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes(settings: ApiSettings) -> list[BaseRoute]:
    page_html = _static("admin.html")
    oidc = AdminOidc(settings) if settings.admin_oidc_enabled else None

    async def page(request: Request) -> Response:
        return Response(page_html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    async def session(request: Request) -> Response:
        return await _session_answer(request, oidc is not None)

    async def logout(request: Request) -> Response:
        identity = admin_session.current(request)
        if identity is not None:
            assert settings.admin_public_url is not None  # a session exists only with OIDC on
            check_page_write(request, origin=settings.admin_public_url, token=identity.csrf)
            await admin_session.end(request, context_of(request).redis, identity)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    plumbing = [
        Route("/session", session, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        *(Route(f"/{name}", _asset(_static(name), kind), methods=["GET"]) for name, kind in ASSETS.items()),
    ]
    if oidc is not None:
        plumbing += [
            Route("/login", oidc.login, methods=["GET"]),
            Route("/callback", oidc.callback, methods=["GET"]),
        ]
    return [Route("/admin", page, methods=["GET"]), Mount("/admin", routes=plumbing)]
