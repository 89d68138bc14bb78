"""Bearer JWT verification and dev-token minting (joserfc, from the authlib family).

HS256 with SCOREBOARD_JWT_SECRET for development and tests; asymmetric keys from a JWKS file or
URL in production, chosen by `kid` and refreshed on an unknown `kid` at most once a minute. The
key is picked from the token's `alg`, so an RS256 public key can never be used as an HS256 secret.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import GuestProtocol, KeySet, OctKey

from scoreboard.config import JwtSettings
from scoreboard.domain.errors import Reason, Unauthenticated
from scoreboard.domain.models import Principal
from scoreboard.domain.text import clean_text
from scoreboard.security.admin_claim import ADMIN_ROLE, DEFAULT_ADMIN_CLAIM, holds_admin_role

HS_ALGORITHMS = ["HS256"]
# "Ed25519" is EdDSA's fully-specified name (RFC 9864); "EdDSA" stays accepted for existing issuers.
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256", "Ed25519", "EdDSA"]
JWKS_REFRESH_INTERVAL_S = 60.0
# A game client sends the same token with every request: remember a verified token (the full
# string is the key) until it expires, at most this long, so a key removed from the JWKS stops
# working within the same bound. Only successes are cached.
VERIFIED_CACHE_S = 60.0
VERIFIED_CACHE_SIZE = 50_000
MAX_NAME_LENGTH = 64


def _invalid(message: str = "the bearer token is not valid") -> Unauthenticated:
    return Unauthenticated(message, reason=Reason.TOKEN_INVALID)


class JwksSource:
    """A JWKS from a file or URL, reloaded when a token names a kid we have not seen."""

    def __init__(self, location: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._location = location
        self._clock = clock
        self._keys: KeySet | None = None
        self._loaded_at = float("-inf")

    async def _fetch(self) -> dict[str, Any]:
        if self._location.startswith(("http://", "https://")):
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self._location)
                response.raise_for_status()
                data: dict[str, Any] = response.json()
                return data
        raw = await asyncio.to_thread(Path(self._location).read_bytes)
        loaded: dict[str, Any] = orjson.loads(raw)
        return loaded

    async def refresh(self, *, force: bool = False) -> None:
        if not force and self._clock() - self._loaded_at < JWKS_REFRESH_INTERVAL_S:
            return
        self._loaded_at = self._clock()
        self._keys = KeySet.import_key_set(await self._fetch())  # type: ignore[arg-type]

    def knows(self, kid: str | None) -> bool:
        if self._keys is None:
            return False
        return any(key.kid == kid for key in self._keys.keys) if kid else bool(self._keys.keys)

    @property
    def keys(self) -> KeySet:
        if self._keys is None:
            raise _invalid("no verification keys are loaded")
        return self._keys


class TokenVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._secret = (
            OctKey.import_key(settings.jwt_secret.get_secret_value()) if settings.jwt_secret else None
        )
        self._jwks = JwksSource(settings.jwt_jwks) if settings.jwt_jwks else None
        default_algorithms = (HS_ALGORITHMS if self._secret else []) + (
            ASYMMETRIC_ALGORITHMS if self._jwks else []
        )
        self.algorithms = settings.jwt_algorithms or default_algorithms
        claims: dict[str, Any] = {"exp": {"essential": True}, "sub": {"essential": True}}
        if settings.jwt_issuer:
            claims["iss"] = {"essential": True, "value": settings.jwt_issuer}
        if settings.jwt_audience:
            claims["aud"] = {"essential": True, "value": settings.jwt_audience}
        self._claims_options = claims
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    @property
    def configured(self) -> bool:
        return self._secret is not None or self._jwks is not None

    def _choose_key(self, token: GuestProtocol) -> Any:
        alg = token.headers().get("alg")
        if alg in HS_ALGORITHMS:
            if self._secret is None:
                raise _invalid()
            return self._secret
        if self._jwks is None:
            raise _invalid()
        return self._jwks.keys

    async def _ensure_kid_known(self, token: str) -> None:
        if self._jwks is None:
            return
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError) as error:
            raise _invalid() from error
        if header.get("alg") in HS_ALGORITHMS:
            return
        kid = header.get("kid")
        if not self._jwks.knows(kid):
            try:
                await self._jwks.refresh()
            except (httpx.HTTPError, OSError, ValueError, JoseError) as error:
                raise _invalid("verification keys are unavailable") from error

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires_at = await self._verify(token)
        self._verified[token] = (principal, min(expires_at, time.time() + VERIFIED_CACHE_S))
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)  # the oldest verification
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        if not self.configured:
            raise _invalid("no token verification key is configured")
        await self._ensure_kid_known(token)
        try:
            decoded = jwt.decode(token, self._choose_key, algorithms=self.algorithms)
            registry = jwt.JWTClaimsRegistry(leeway=self._settings.jwt_leeway_s, **self._claims_options)
            registry.validate(decoded.claims)
        except ExpiredTokenError as error:
            raise Unauthenticated("the bearer token has expired", reason=Reason.TOKEN_EXPIRED) from error
        except (JoseError, ValueError, TypeError) as error:
            raise _invalid() from error
        return self._principal(decoded.claims), float(decoded.claims["exp"])

    def _principal(self, claims: dict[str, Any]) -> Principal:
        now = time.time()
        issued_at = claims.get("iat")
        start = issued_at if isinstance(issued_at, int | float) else now
        if float(claims["exp"]) - float(start) > self._settings.jwt_max_ttl_s + self._settings.jwt_leeway_s:
            raise _invalid("the bearer token lives longer than allowed")
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError as error:
            raise _invalid("the token subject must be a UUID") from error
        name = claims.get("name")
        display_name = clean_text(name, MAX_NAME_LENGTH) if isinstance(name, str) else ""
        return Principal(
            user_id=user_id,
            display_name=display_name or f"Player {str(user_id)[:8]}",
            admin=holds_admin_role(claims, self._settings.admin_claim),
        )


def renewable_dev_subject(secret: str, token: str, *, grace_s: float) -> tuple[UUID, str]:
    """The (user id, name) of a dev token we signed, even expired up to `grace_s` ago: proof
    enough to renew it for the same player, and nothing else (never a route's authentication)."""
    try:
        decoded = jwt.decode(token, OctKey.import_key(secret), algorithms=HS_ALGORITHMS)
        expires_at = float(decoded.claims["exp"])
        user_id = UUID(str(decoded.claims["sub"]))
    except (JoseError, KeyError, ValueError, TypeError) as error:
        raise _invalid() from error
    if time.time() - expires_at > grace_s:
        raise Unauthenticated("the token expired too long ago to be renewed", reason=Reason.TOKEN_EXPIRED)
    name = decoded.claims.get("name")
    return user_id, clean_text(name, MAX_NAME_LENGTH) if isinstance(name, str) else ""


def mint_dev_token(
    secret: str,
    *,
    user_id: UUID,
    name: str,
    ttl_s: int,
    issuer: str | None = None,
    audience: str | None = None,
    admin: bool = False,
    admin_claim: str = DEFAULT_ADMIN_CLAIM,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "name": name, "iat": now, "exp": now + ttl_s}
    if admin:
        claims[admin_claim] = [ADMIN_ROLE]
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret), algorithms=HS_ALGORITHMS)
