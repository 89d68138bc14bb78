"""Who is an admin: the admin claim holds scoreboard:admin, as a list or as OAuth-style scopes."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from scoreboard.config import JwtSettings
from scoreboard.security.admin_claim import ADMIN_ROLE, holds_admin_role
from scoreboard.security.bearer import TokenVerifier, mint_dev_token

SECRET = "jwt-secret-for-admin-claim-tests-" + "z" * 20


@pytest.mark.parametrize(
    ("claims", "claim"),
    [
        ({"roles": ["scoreboard:admin"]}, "roles"),
        ({"roles": ["reader", "scoreboard:admin"]}, "roles"),
        ({"scope": "openid scoreboard:admin profile"}, "scope"),
        ({"scp": "scoreboard:admin"}, "scp"),
        ({"realm_access": {"roles": ["scoreboard:admin"]}}, "realm_access.roles"),
        ({"https://example.com/roles": ["scoreboard:admin"]}, "https://example.com/roles"),
    ],
)
def test_an_admin_role_is_found_however_the_issuer_spells_it(claims: dict[str, Any], claim: str) -> None:
    assert holds_admin_role(claims, claim)


@pytest.mark.parametrize(
    ("claims", "claim"),
    [
        ({}, "roles"),
        ({"roles": []}, "roles"),
        ({"roles": ["scoreboard:admins", "admin"]}, "roles"),
        ({"roles": "scoreboard:administrator"}, "roles"),
        ({"roles": "scoreboard:admin-not"}, "roles"),
        ({"roles": {"scoreboard:admin": True}}, "roles"),  # a shape no issuer uses for roles
        ({"roles": True}, "roles"),
        ({"scope": "scoreboard:admin"}, "roles"),  # in a claim other than the configured one
        ({"realm_access": ["scoreboard:admin"]}, "realm_access.roles"),
        ({"roles": [["scoreboard:admin"]]}, "roles"),
    ],
)
def test_anything_else_is_not_an_admin(claims: dict[str, Any], claim: str) -> None:
    assert not holds_admin_role(claims, claim)


def _token(**claims: Any) -> str:
    now = int(time.time())
    body = {"sub": str(uuid4()), "iat": now, "exp": now + 300, **claims}
    return jwt.encode({"alg": "HS256"}, body, OctKey.import_key(SECRET))


async def test_the_verifier_reads_the_configured_claim() -> None:
    default = TokenVerifier(JwtSettings(jwt_secret=SECRET))
    scopes = TokenVerifier(JwtSettings(jwt_secret=SECRET, admin_claim="scope"))
    listed = _token(roles=[ADMIN_ROLE])
    scoped = _token(scope=f"openid {ADMIN_ROLE}")
    assert (await default.verify(listed)).admin
    assert not (await default.verify(scoped)).admin
    assert (await scopes.verify(scoped)).admin
    assert not (await scopes.verify(listed)).admin
    assert not (await default.verify(_token())).admin


async def test_a_minted_admin_token_is_an_admins_and_a_plain_one_is_not() -> None:
    verifier = TokenVerifier(JwtSettings(jwt_secret=SECRET, admin_claim="groups"))
    user = uuid4()
    admin = mint_dev_token(SECRET, user_id=user, name="Root", ttl_s=60, admin=True, admin_claim="groups")
    plain = mint_dev_token(SECRET, user_id=user, name="Root", ttl_s=60)
    assert (await verifier.verify(admin)).admin
    assert not (await verifier.verify(plain)).admin
