"""The admin sign-in settings: OIDC needs all of its pieces, and a bad one stops the process."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.api.settings import ApiSettings

OIDC = {
    "SCOREBOARD_ADMIN_OIDC_ISSUER": "https://id.example.com/realms/ops",
    "SCOREBOARD_ADMIN_OIDC_CLIENT_ID": "scoreboard",
    "SCOREBOARD_ADMIN_OIDC_CLIENT_SECRET": "c" * 40,
    "SCOREBOARD_ADMIN_PUBLIC_URL": "https://scoreboard.example.com",
    "SCOREBOARD_ADMIN_SESSION_SECRET": "s" * 40,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("SCOREBOARD_"):
            monkeypatch.delenv(name)
    required = {
        "SCOREBOARD_DATABASE_URL": "postgresql://user@db/scoreboard",
        "SCOREBOARD_REDIS_URL": "redis://cache:6379/0",
        "SCOREBOARD_TICKET_SECRET": "t" * 40,
        "SCOREBOARD_JWT_SECRET": "j" * 40,
    }
    for name, value in (required | OIDC).items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_oidc_sign_in_loads_with_secure_cookies(env: pytest.MonkeyPatch) -> None:
    settings = ApiSettings()
    assert settings.admin_oidc_enabled
    assert settings.admin_cookies_secure
    assert (settings.admin_oidc_scope, settings.admin_session_ttl_s) == ("openid profile", 3600)
    assert "c" * 40 not in repr(settings)
    assert "s" * 40 not in repr(settings)


def test_without_any_oidc_setting_the_page_takes_pasted_tokens(env: pytest.MonkeyPatch) -> None:
    for name in OIDC:
        env.delenv(name)
    assert not ApiSettings().admin_oidc_enabled


@pytest.mark.parametrize(
    "missing",
    [
        "SCOREBOARD_ADMIN_OIDC_ISSUER",
        "SCOREBOARD_ADMIN_OIDC_CLIENT_ID",
        "SCOREBOARD_ADMIN_OIDC_CLIENT_SECRET",
    ],
)
def test_oidc_settings_come_together(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(ValidationError, match=r"SCOREBOARD_ADMIN_OIDC_ISSUER, .* set together"):
        ApiSettings()


@pytest.mark.parametrize("missing", ["SCOREBOARD_ADMIN_PUBLIC_URL", "SCOREBOARD_ADMIN_SESSION_SECRET"])
def test_oidc_needs_the_public_url_and_a_session_secret(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(ValidationError, match=f"also needs {missing}"):
        ApiSettings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCOREBOARD_ADMIN_OIDC_ISSUER", "http://id.example.com"),  # plain http off loopback
        ("SCOREBOARD_ADMIN_OIDC_ISSUER", "id.example.com"),
        ("SCOREBOARD_ADMIN_PUBLIC_URL", "http://scoreboard.example.com"),
        ("SCOREBOARD_ADMIN_PUBLIC_URL", "https://scoreboard.example.com/admin"),  # an origin, no path
        ("SCOREBOARD_ADMIN_SESSION_SECRET", "short"),
        ("SCOREBOARD_ADMIN_OIDC_SCOPE", "profile email"),  # no ID token without openid
        ("SCOREBOARD_ADMIN_SESSION_TTL_S", "86400"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        ApiSettings()
    assert [item["loc"][0] for item in error.value.errors()] == [name.removeprefix("SCOREBOARD_").lower()]


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_plain_http_only_on_loopback_and_then_cookies_are_not_secure(
    env: pytest.MonkeyPatch, origin: str
) -> None:
    env.setenv("SCOREBOARD_ADMIN_PUBLIC_URL", origin + "/")
    settings = ApiSettings()
    assert settings.admin_public_url == origin  # the trailing slash is no part of an origin
    assert not settings.admin_cookies_secure
