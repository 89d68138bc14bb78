"""The admin page's cookie session, kept after an OIDC sign-in (docs/decisions/0013-admin-page-sign-in.md).

Starlette's SessionMiddleware signs the cookie (HttpOnly, SameSite=Strict, Secure unless the page
is served over plain http on a loopback address); it runs on the admin paths only, so the public
hot paths never parse a cookie. The session holds who signed in, when it ends, and the CSRF token
the page must echo on every write. Signing out puts the session on a list in Redis until its end
(redis_store/signed_out.py), so a copy of the cookie taken before is refused too; when Redis
cannot say, a session is refused (fail closed: the page can still sign in with a pasted token).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreboard.domain.errors import Reason, Unauthenticated, Unavailable
from scoreboard.domain.models import Principal
from scoreboard.redis_store import signed_out
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from services.api.admin_settings import AdminSignInSettings

SESSION_PATHS = ("/admin", "/api/admin/")
SESSION_KEY = "admin"
# __Host-: the browser keeps it only if Secure, for this host alone (no Domain), with Path=/.
SECURE_COOKIE = "__Host-scoreboard-admin"
LOOPBACK_COOKIE = "scoreboard-admin"
# A fixed namespace: an identity provider's subject that is no UUID always maps to the same id.
SUBJECT_NAMESPACE = uuid.UUID("6f1c2b8e-4f0a-5c43-9a55-2b1f3e0d7a10")


def user_id_of(issuer: str, subject: str) -> uuid.UUID:
    """An admin's user id: the subject itself when it is a UUID (as the bearer tokens' must be),
    else a UUIDv5 of issuer and subject, so two people never share one and the two-person rule
    holds whatever the provider's subjects look like."""
    try:
        return uuid.UUID(subject)
    except ValueError:
        return uuid.uuid5(SUBJECT_NAMESPACE, f"{issuer}\n{subject}")


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: str
    subject: str
    name: str
    admin: bool
    expires_at: float
    csrf: str

    @classmethod
    def start(cls, *, user_id: uuid.UUID, subject: str, name: str, admin: bool, ttl_s: int) -> SignedIn:
        return cls(str(user_id), subject, name, admin, time.time() + ttl_s, secrets.token_urlsafe(32))

    @classmethod
    def from_session(cls, data: Any) -> SignedIn | None:
        try:
            return cls(**data)
        except TypeError:  # absent, or written by another version: signed out
            return None

    def principal(self) -> Principal:
        return Principal(user_id=uuid.UUID(self.user_id), display_name=self.name, admin=self.admin)


def cookie_name(settings: AdminSignInSettings) -> str:
    return SECURE_COOKIE if settings.admin_cookies_secure else LOOPBACK_COOKIE


class AdminSessions:
    """SessionMiddleware on the admin paths only."""

    def __init__(self, app: ASGIApp, settings: AdminSignInSettings) -> None:
        assert settings.admin_session_secret is not None  # checked by the settings
        self.app = app
        self._sessions = SessionMiddleware(
            app,
            secret_key=settings.admin_session_secret.get_secret_value(),
            session_cookie=cookie_name(settings),
            max_age=settings.admin_session_ttl_s,
            path="/",
            same_site="strict",
            https_only=settings.admin_cookies_secure,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(SESSION_PATHS):
            await self._sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def begin(request: Request, identity: SignedIn) -> None:
    request.session.clear()  # nothing from before the sign-in carries over
    request.session[SESSION_KEY] = asdict(identity)


async def end(request: Request, redis: Redis, identity: SignedIn) -> None:
    """Sign out: this browser's cookie is cleared, and every copy of it refused until its end."""
    request.session.clear()  # cleared in the answer even if Redis fails below
    try:
        await signed_out.sign_out(redis, identity.csrf, identity.expires_at - time.time())
    except REDIS_DOWN as error:
        raise Unavailable(
            "signed out here, but other copies of the session could not be ended",
            reason=Reason.SESSION_UNVERIFIABLE,
        ) from error


def current(request: Request) -> SignedIn | None:
    """Who holds this session, None without one; 401 once it has ended (and it is cleared)."""
    if "session" not in request.scope:
        return None  # no OIDC: the page signs in with a pasted token only
    identity = SignedIn.from_session(request.session.get(SESSION_KEY))
    if identity is None:
        return None
    if identity.expires_at <= time.time():
        request.session.clear()
        raise Unauthenticated("the admin session has ended: sign in again", reason=Reason.TOKEN_EXPIRED)
    return identity


async def active(request: Request, redis: Redis) -> SignedIn | None:
    """`current`, and 401 once that session was signed out, from whichever copy of its cookie."""
    identity = current(request)
    if identity is None:
        return None
    try:
        gone = await signed_out.signed_out(redis, identity.csrf)
    except REDIS_DOWN as error:
        raise Unavailable(
            "the admin session cannot be checked now: sign in with a token",
            reason=Reason.SESSION_UNVERIFIABLE,
        ) from error
    if gone:
        request.session.clear()
        raise Unauthenticated("the admin session was signed out: sign in again", reason=Reason.TOKEN_INVALID)
    return identity
