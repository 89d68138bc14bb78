"""Verified tokens are remembered until they expire (at most a minute), never beyond."""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from scoreboard.config import JwtSettings
from scoreboard.domain.errors import Unauthenticated
from scoreboard.security import bearer
from scoreboard.security.bearer import TokenVerifier, mint_dev_token

SECRET = "unit-test-jwt-secret-0123456789abcdef0123"


async def test_a_verified_token_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(JwtSettings(jwt_secret=SECRET))
    token = mint_dev_token(SECRET, user_id=uuid.uuid4(), name="Ann", ttl_s=300)
    first = await verifier.verify(token)
    calls = []
    monkeypatch.setattr(bearer.jwt, "decode", lambda *a, **k: calls.append(a))
    assert await verifier.verify(token) == first
    assert calls == []


async def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(JwtSettings(jwt_secret=SECRET, jwt_leeway_s=0))
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "iat": now, "exp": now + 2}
    token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET), algorithms=["HS256"])
    await verifier.verify(token)
    monkeypatch.setattr(bearer.time, "time", lambda: now + 3)
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
