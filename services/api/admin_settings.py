"""How admins sign in to the admin page (docs/operations.md "The admin page").

Without OIDC settings the page takes a pasted admin token (kept by the browser tab, sent as a
bearer token). With all three `ADMIN_OIDC_*` settings it also offers single sign-on: an
authorization code flow with PKCE, after which the API keeps a cookie session.
"""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from scoreboard.config import BaseScoreboardSettings, long_enough_secret

OIDC_VARIABLES = (
    "SCOREBOARD_ADMIN_OIDC_ISSUER",
    "SCOREBOARD_ADMIN_OIDC_CLIENT_ID",
    "SCOREBOARD_ADMIN_OIDC_CLIENT_SECRET",
)


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _https_or_loopback(value: str | None, *, bare_origin: bool) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must be https (plain http only on a loopback address)")
    if bare_origin and (parts.path or parts.query or parts.fragment):
        raise ValueError("must be an origin alone: scheme, host and port, no path")
    return value


class AdminSignInSettings(BaseScoreboardSettings):
    admin_oidc_issuer: str | None = None
    admin_oidc_client_id: str | None = Field(default=None, min_length=1)
    admin_oidc_client_secret: SecretStr | None = None
    admin_oidc_scope: str = Field(default="openid profile", min_length=6)
    # The origin browsers see the API at: the redirect URI registered with the identity provider
    # is this + /admin/callback, and a cookie-authenticated write must come from this origin.
    admin_public_url: str | None = None
    # Signs the session cookies; the same value on every API process.
    admin_session_secret: SecretStr | None = None
    # A session ends this long after sign-in, whatever happens at the identity provider meanwhile.
    admin_session_ttl_s: int = Field(default=3600, ge=60, le=43_200)

    _check_session_secret = field_validator("admin_session_secret")(long_enough_secret)

    @field_validator("admin_oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        return _https_or_loopback(value, bare_origin=False)

    @field_validator("admin_public_url")
    @classmethod
    def _public_origin(cls, value: str | None) -> str | None:
        return _https_or_loopback(value, bare_origin=True)

    @field_validator("admin_oidc_scope")
    @classmethod
    def _asks_for_an_id_token(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("must include 'openid' (the identity comes from the ID token)")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> AdminSignInSettings:
        given = [self.admin_oidc_issuer, self.admin_oidc_client_id, self.admin_oidc_client_secret]
        if any(given) and not all(given):
            raise ValueError(f"{', '.join(OIDC_VARIABLES)} are set together or not at all")
        if all(given):
            missing = [
                f"SCOREBOARD_{name.upper()}"
                for name in ("admin_public_url", "admin_session_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"admin sign-in by OIDC also needs {' and '.join(missing)}")
        return self

    @property
    def admin_oidc_enabled(self) -> bool:
        return self.admin_oidc_issuer is not None

    @property
    def admin_cookies_secure(self) -> bool:
        """Secure cookies, except when the page is served over plain http on a loopback address."""
        return urlsplit(self.admin_public_url or "https://x").scheme == "https"
