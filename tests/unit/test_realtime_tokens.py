"""Stream tokens: one user, the stream alone, short-lived."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from scoreboard.domain.errors import Reason, Unauthenticated
from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.realtime_tokens import RealtimeTokens

SECRET = "ticket-secret-for-unit-tests-" + "r" * 20


def test_issued_token_verifies_to_its_user() -> None:
    tokens = RealtimeTokens(SECRET, ttl_s=60)
    user = uuid4()
    assert tokens.verify(tokens.issue(user)) == user


def test_token_from_another_secret_is_rejected() -> None:
    token = RealtimeTokens("another-ticket-secret-" + "s" * 20, ttl_s=60).issue(uuid4())
    with pytest.raises(Unauthenticated) as error:
        RealtimeTokens(SECRET, ttl_s=60).verify(token)
    assert error.value.reason is Reason.TOKEN_INVALID


def test_bearer_token_signed_with_the_same_secret_is_not_a_stream_token() -> None:
    bearer = mint_dev_token(SECRET, user_id=uuid4(), name="x", ttl_s=60)
    with pytest.raises(Unauthenticated):
        RealtimeTokens(SECRET, ttl_s=60).verify(bearer)


def test_expired_stream_token_is_rejected_as_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = RealtimeTokens(SECRET, ttl_s=10)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 60)
    token = tokens.issue(uuid4())
    monkeypatch.setattr(time, "time", real_time)
    with pytest.raises(Unauthenticated) as error:
        tokens.verify(token)
    assert error.value.reason is Reason.TOKEN_EXPIRED


def test_issued_token_lives_ttl_seconds_and_is_scoped_to_the_stream() -> None:
    token = RealtimeTokens(SECRET, ttl_s=45).issue(uuid4())
    claims = jwt.decode(token, _any_key(token)).claims
    assert claims["exp"] - claims["iat"] == 45
    assert claims["aud"] == "scoreboard:stream"


def _any_key(token: str) -> OctKey:
    import hashlib
    import hmac

    derived = hmac.new(SECRET.encode(), b"scoreboard/realtime-token/v1", hashlib.sha256).hexdigest()
    return OctKey.import_key(derived)
