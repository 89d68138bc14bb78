"""Bearer JWT verification: pinned algorithms, exp and lifetime, iss/aud, JWKS by kid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from scoreboard.config import JwtSettings
from scoreboard.domain.errors import Reason, Unauthenticated
from scoreboard.security import bearer
from scoreboard.security.bearer import JwksSource, TokenVerifier, mint_dev_token
from scoreboard.security.realtime_tokens import RealtimeTokens

SECRET = "jwt-secret-for-unit-tests-" + "z" * 20
OTHER_SECRET = "another-jwt-secret-entirely-" + "q" * 20
Key = RSAKey | ECKey | OKPKey


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="module")
def okp_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(uuid4()), "name": "Ada", "iat": now, "exp": now + 300}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))


def _asym(alg: str, key: Key, claims: dict[str, Any], kid: str | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags EdDSA when *minting*; minting is not under test
        return jwt.encode({"alg": alg, "kid": kid or key.kid}, claims, key, algorithms=[alg])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_hs256(secret: bytes, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """Hand-built token, for attacks a well-behaved library refuses to mint."""
    signing_input = _b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode()) + "."
    signing_input += _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _write_jwks(path: Path, *keys: Key) -> str:
    path.write_bytes(orjson.dumps({"keys": [key.as_dict(private=False) for key in keys]}))
    return str(path)


def _hs_verifier(**settings: Any) -> TokenVerifier:
    return TokenVerifier(JwtSettings(jwt_secret=SECRET, **settings))


async def assert_rejected(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as error:
        await verifier.verify(token)
    return error.value


async def test_valid_hs256_token_gives_the_principal() -> None:
    claims = _claims(name="  Ada Lovelace  ")
    principal = await _hs_verifier().verify(_hs256(claims))
    assert principal.user_id == UUID(claims["sub"])
    assert principal.display_name == "Ada Lovelace"


async def test_token_without_name_gets_a_player_display_name() -> None:
    claims = _claims(name=None)
    principal = await _hs_verifier().verify(_hs256(claims))
    assert principal.display_name == f"Player {claims['sub'][:8]}"


async def test_alg_none_token_is_rejected() -> None:
    header = _b64(b'{"alg":"none","typ":"JWT"}')
    payload = _b64(json.dumps(_claims()).encode())
    error = await assert_rejected(_hs_verifier(), f"{header}.{payload}.")
    assert error.reason is Reason.TOKEN_INVALID


async def test_token_signed_with_another_secret_is_rejected() -> None:
    error = await assert_rejected(_hs_verifier(), _hs256(_claims(), OTHER_SECRET))
    assert error.reason is Reason.TOKEN_INVALID


async def test_tampered_payload_is_rejected() -> None:
    header, _, signature = _hs256(_claims()).split(".")
    forged = _b64(json.dumps(_claims()).encode())
    await assert_rejected(_hs_verifier(), f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
async def test_garbage_token_is_rejected(garbage: str) -> None:
    await assert_rejected(_hs_verifier(), garbage)


async def test_token_expired_beyond_the_leeway_is_rejected_as_expired() -> None:
    now = int(time.time())
    error = await assert_rejected(_hs_verifier(jwt_leeway_s=30), _hs256(_claims(iat=now - 120, exp=now - 31)))
    assert error.reason is Reason.TOKEN_EXPIRED


async def test_token_expired_within_the_leeway_is_accepted() -> None:
    now = int(time.time())
    claims = _claims(iat=now - 120, exp=now - 10)
    principal = await _hs_verifier(jwt_leeway_s=30).verify(_hs256(claims))
    assert principal.user_id == UUID(claims["sub"])


async def test_token_without_exp_is_rejected() -> None:
    error = await assert_rejected(_hs_verifier(), _hs256(_claims(exp=None)))
    assert error.reason is Reason.TOKEN_INVALID


async def test_lifetime_over_max_ttl_is_rejected() -> None:
    now = int(time.time())
    token = _hs256(_claims(iat=now, exp=now + 900 + 30 + 60))
    await assert_rejected(_hs_verifier(jwt_max_ttl_s=900, jwt_leeway_s=30), token)


async def test_lifetime_over_max_ttl_without_iat_is_rejected() -> None:
    now = int(time.time())
    token = _hs256(_claims(iat=None, exp=now + 86_400))
    await assert_rejected(_hs_verifier(jwt_max_ttl_s=900), token)


async def test_lifetime_of_exactly_max_ttl_is_accepted() -> None:
    now = int(time.time())
    claims = _claims(iat=now, exp=now + 900)
    assert (await _hs_verifier(jwt_max_ttl_s=900).verify(_hs256(claims))).user_id == UUID(claims["sub"])


async def test_issuer_is_enforced_when_configured() -> None:
    verifier = _hs_verifier(jwt_issuer="https://auth.example")
    await assert_rejected(verifier, _hs256(_claims()))
    await assert_rejected(verifier, _hs256(_claims(iss="https://evil.example")))
    assert await verifier.verify(_hs256(_claims(iss="https://auth.example")))


async def test_audience_is_enforced_when_configured() -> None:
    verifier = _hs_verifier(jwt_audience="scoreboard")
    await assert_rejected(verifier, _hs256(_claims()))
    await assert_rejected(verifier, _hs256(_claims(aud="someone-else")))
    assert await verifier.verify(_hs256(_claims(aud="scoreboard")))


@pytest.mark.parametrize("subject", ["alice", "12345", "", None])
async def test_subject_that_is_not_a_uuid_is_rejected(subject: str | None) -> None:
    await assert_rejected(_hs_verifier(), _hs256(_claims(sub=subject)))


async def test_unconfigured_verifier_rejects_everything() -> None:
    verifier = TokenVerifier(JwtSettings())
    assert not verifier.configured
    await assert_rejected(verifier, _hs256(_claims()))


async def test_dev_token_round_trips_with_issuer_and_audience() -> None:
    user = uuid4()
    token = mint_dev_token(SECRET, user_id=user, name="Bob", ttl_s=600, issuer="iss", audience="aud")
    principal = await _hs_verifier(jwt_issuer="iss", jwt_audience="aud").verify(token)
    assert (principal.user_id, principal.display_name) == (user, "Bob")


async def test_stream_token_is_not_a_bearer_token() -> None:
    stream_token = RealtimeTokens(SECRET, ttl_s=60).issue(uuid4())
    await assert_rejected(_hs_verifier(), stream_token)


@pytest.mark.parametrize(
    ("alg", "key_fixture"), [("RS256", "rsa_key"), ("ES256", "ec_key"), ("EdDSA", "okp_key")]
)
async def test_asymmetric_token_is_verified_from_the_jwks_by_kid(
    alg: str, key_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    keys = [request.getfixturevalue(name) for name in ("rsa_key", "ec_key", "okp_key")]
    verifier = TokenVerifier(JwtSettings(jwt_jwks=_write_jwks(tmp_path / "jwks.json", *keys)))
    claims = _claims()
    principal = await verifier.verify(_asym(alg, request.getfixturevalue(key_fixture), claims))
    assert principal.user_id == UUID(claims["sub"])


async def test_asymmetric_token_signed_by_a_key_outside_the_jwks_is_rejected(
    rsa_key: RSAKey, tmp_path: Path
) -> None:
    verifier = TokenVerifier(JwtSettings(jwt_jwks=_write_jwks(tmp_path / "jwks.json", rsa_key)))
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    await assert_rejected(verifier, _asym("RS256", impostor, _claims()))


async def test_token_naming_another_kid_does_not_verify_with_a_different_key(
    rsa_key: RSAKey, ec_key: ECKey, tmp_path: Path
) -> None:
    verifier = TokenVerifier(JwtSettings(jwt_jwks=_write_jwks(tmp_path / "jwks.json", rsa_key, ec_key)))
    await assert_rejected(verifier, _asym("RS256", rsa_key, _claims(), kid="ec-1"))


async def test_hs256_signed_with_the_rsa_public_pem_is_rejected_when_only_jwks_is_configured(
    rsa_key: RSAKey, tmp_path: Path
) -> None:
    verifier = TokenVerifier(JwtSettings(jwt_jwks=_write_jwks(tmp_path / "jwks.json", rsa_key)))
    pem = rsa_key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    await assert_rejected(verifier, _raw_hs256(pem, _claims(), header))


async def test_hs256_signed_with_the_public_jwk_bytes_is_rejected_when_only_jwks_is_configured(
    rsa_key: RSAKey, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    verifier = TokenVerifier(JwtSettings(jwt_jwks=_write_jwks(path, rsa_key)))
    for secret in (path.read_bytes(), orjson.dumps(rsa_key.as_dict(private=False))):
        await assert_rejected(verifier, _raw_hs256(secret, _claims(), {"alg": "HS256", "kid": "rsa-1"}))


async def test_hs256_signed_with_the_rsa_public_pem_is_rejected_when_both_sources_are_configured(
    rsa_key: RSAKey, tmp_path: Path
) -> None:
    jwks = _write_jwks(tmp_path / "jwks.json", rsa_key)
    verifier = TokenVerifier(JwtSettings(jwt_secret=SECRET, jwt_jwks=jwks))
    await assert_rejected(verifier, _raw_hs256(rsa_key.as_pem(private=False), _claims(), {"alg": "HS256"}))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _verifier_with_clock(monkeypatch: pytest.MonkeyPatch, jwks: str, clock: FakeClock) -> TokenVerifier:
    made: Callable[[str], JwksSource] = lambda location: JwksSource(location, clock=clock)  # noqa: E731
    monkeypatch.setattr(bearer, "JwksSource", made)
    return TokenVerifier(JwtSettings(jwt_jwks=jwks))


async def test_unknown_kid_reloads_the_jwks_at_most_once_a_minute(
    rsa_key: RSAKey, ec_key: ECKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jwks.json"
    clock = FakeClock()
    verifier = _verifier_with_clock(monkeypatch, _write_jwks(path, rsa_key), clock)
    assert await verifier.verify(_asym("RS256", rsa_key, _claims()))

    _write_jwks(path, rsa_key, ec_key)  # the issuer rotates a new key in
    clock.now += 30
    await assert_rejected(verifier, _asym("ES256", ec_key, _claims()))  # too soon to reload

    clock.now += 31
    assert await verifier.verify(_asym("ES256", ec_key, _claims()))


async def test_a_burst_of_unknown_kids_costs_one_reload(
    rsa_key: RSAKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    verifier = _verifier_with_clock(monkeypatch, _write_jwks(tmp_path / "jwks.json", rsa_key), clock)
    fetches = 0
    original = JwksSource._fetch

    async def counting_fetch(self: JwksSource) -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return await original(self)

    monkeypatch.setattr(JwksSource, "_fetch", counting_fetch)
    assert await verifier.verify(_asym("RS256", rsa_key, _claims()))
    for second in range(59):
        clock.now += 1 if second else 0
        await assert_rejected(verifier, _asym("RS256", rsa_key, _claims(), kid=f"unknown-{second}"))
    assert fetches == 1
    clock.now += 2
    await assert_rejected(verifier, _asym("RS256", rsa_key, _claims(), kid="unknown-late"))
    assert fetches == 2


async def test_known_kid_never_reloads(
    rsa_key: RSAKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    path = tmp_path / "jwks.json"
    verifier = _verifier_with_clock(monkeypatch, _write_jwks(path, rsa_key), clock)
    assert await verifier.verify(_asym("RS256", rsa_key, _claims()))
    path.unlink()  # a reload would now fail
    clock.now += 3_600
    assert await verifier.verify(_asym("RS256", rsa_key, _claims()))


async def test_unreadable_jwks_is_a_401_not_a_crash(rsa_key: RSAKey, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    verifier = TokenVerifier(JwtSettings(jwt_jwks=str(missing)))
    await assert_rejected(verifier, _asym("RS256", rsa_key, _claims()))
    missing.write_text("{not json")
    await assert_rejected(
        TokenVerifier(JwtSettings(jwt_jwks=str(missing))), _asym("RS256", rsa_key, _claims())
    )
