"""Admin sign-in by OIDC: the authorization code flow with PKCE, through authlib's Starlette client.

`/admin/login` sends the browser to the identity provider; `/admin/callback` takes the code back,
exchanges it (with the PKCE verifier and the client secret) for an ID token that authlib checks
(signature from the provider's JWKS, issuer, audience, expiry, nonce), and opens the admin
session when the token's admin claim holds `scoreboard:admin`. Every failure lands on the page
as `/admin?signin=<why>` with nothing signed in.

The flow's state (state, nonce, PKCE verifier) travels in a cookie of its own, signed, for
/admin/callback only and SameSite=Lax: the provider's redirect back is a cross-site navigation,
which a SameSite=Strict cookie (the session's) would not ride on. It binds the callback to the
browser that started the flow and is spent by it.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scoreboard.domain.text import clean_text
from scoreboard.security.admin_claim import holds_admin_role
from services.api import admin_session
from services.api.settings import ApiSettings

CALLBACK_PATH = "/admin/callback"
FLOW_TTL_S = 600  # from leaving for the provider to coming back
MAX_NAME_LENGTH = 64
# What the page is told (/admin?signin=...) for an OAuth error; any other is "refused".
OUTCOME_OF_ERROR = {"mismatching_state": "state_mismatch", "access_denied": "denied"}

log = logging.getLogger("scoreboard.api.admin")


class AdminOidc:
    def __init__(self, settings: ApiSettings) -> None:
        # All four are there when OIDC is on: the settings refuse to load otherwise.
        assert settings.admin_oidc_issuer is not None
        assert settings.admin_oidc_client_secret is not None
        assert settings.admin_public_url is not None
        assert settings.admin_session_secret is not None
        self._settings = settings
        self._issuer = settings.admin_oidc_issuer
        self._redirect_uri = settings.admin_public_url + CALLBACK_PATH
        client: StarletteOAuth2App = OAuth().register(
            "admin",
            client_id=settings.admin_oidc_client_id,
            client_secret=settings.admin_oidc_client_secret.get_secret_value(),
            server_metadata_url=f"{self._issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.admin_oidc_scope,
                "code_challenge_method": "S256",  # PKCE
                "timeout": 10,
            },
        )
        self._client = client
        self._flows = URLSafeTimedSerializer(
            settings.admin_session_secret.get_secret_value(), salt="scoreboard-admin-oidc-flow"
        )
        secure = settings.admin_cookies_secure
        self._flow_cookie = "__Secure-scoreboard-admin-flow" if secure else "scoreboard-admin-flow"

    async def login(self, request: Request) -> Response:
        flow: dict[str, Any] = {}
        try:
            await self._check_issuer()
            # authlib keeps the flow's state in `request.session`: here, the flow cookie's dict.
            response: Response = await self._client.authorize_redirect(
                _with_session(request, flow), self._redirect_uri
            )
        except (httpx2.HTTPError, ValueError) as error:
            log.warning("admin sign-in: the identity provider is unavailable", extra={"error": repr(error)})
            return _back_to_page("unavailable")
        response.set_cookie(
            self._flow_cookie,
            self._flows.dumps(flow),
            max_age=FLOW_TTL_S,
            path=CALLBACK_PATH,
            secure=self._settings.admin_cookies_secure,
            httponly=True,
            samesite="lax",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def callback(self, request: Request) -> Response:
        outcome = await self._finish(request)
        if isinstance(outcome, str):
            response = _back_to_page(outcome)
        else:
            admin_session.begin(request, outcome)
            response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(
            self._flow_cookie, path=CALLBACK_PATH, secure=self._settings.admin_cookies_secure, httponly=True
        )
        return response

    async def _finish(self, request: Request) -> admin_session.SignedIn | str:
        """The signed-in admin, or why not."""
        flow = self._flow_of(request)
        try:
            token = await self._client.authorize_access_token(_with_session(request, flow))
        except OAuthError as error:
            outcome = OUTCOME_OF_ERROR.get(str(error.error), "refused")
            log.warning("admin sign-in refused", extra={"outcome": outcome, "error": error.error})
            return outcome
        except (JoseError, ValueError, KeyError) as error:  # an ID token that does not verify
            log.warning("admin sign-in refused: the ID token", extra={"error": repr(error)})
            return "refused"
        except httpx2.HTTPError as error:
            log.warning("admin sign-in: the identity provider is unavailable", extra={"error": repr(error)})
            return "unavailable"
        claims = token.get("userinfo")
        if not claims or not isinstance(claims.get("sub"), str):
            return "refused"  # no ID token: nothing says who this is
        identity = self._identity(claims)
        if not identity.admin:
            log.warning("admin sign-in refused: not an admin", extra={"user_id": identity.user_id})
            return "not_admin"
        log.info("admin signed in", extra={"user_id": identity.user_id})
        return identity

    def _identity(self, claims: dict[str, Any]) -> admin_session.SignedIn:
        subject: str = claims["sub"]
        user_id = admin_session.user_id_of(self._issuer, subject)
        raw_name = claims.get("name") or claims.get("preferred_username") or claims.get("email")
        name = clean_text(raw_name, MAX_NAME_LENGTH) if isinstance(raw_name, str) else ""
        return admin_session.SignedIn.start(
            user_id=user_id,
            subject=subject,
            name=name or f"Admin {str(user_id)[:8]}",
            admin=holds_admin_role(claims, self._settings.admin_claim),
            ttl_s=self._settings.admin_session_ttl_s,
        )

    def _flow_of(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(self._flow_cookie)
        if raw is None:
            return {}
        try:
            flow: dict[str, Any] = self._flows.loads(raw, max_age=FLOW_TTL_S)
        except BadSignature:  # forged, or older than FLOW_TTL_S (SignatureExpired)
            return {}
        return flow

    async def _check_issuer(self) -> None:
        """The discovery document must name the issuer we trust (OpenID Connect Discovery 4.3)."""
        metadata = await self._client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self._issuer.rstrip("/"):
            self._client.server_metadata.clear()  # reread next time: it may be fixed by then
            raise ValueError(f"the discovery document names issuer {metadata.get('issuer')!r}")


def _with_session(request: Request, session: dict[str, Any]) -> Request:
    return Request({**request.scope, "session": session}, request.receive)


def _back_to_page(why: str) -> Response:
    return RedirectResponse(f"/admin?signin={why}", status_code=303, headers={"Cache-Control": "no-store"})
