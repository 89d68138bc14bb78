"""Short-lived stream tokens: one user, the SSE stream alone, <= 60 s to connect.

EventSource cannot send headers, so this token travels in the query string. It is signed with
a key derived from the ticket secret under its own audience, so it is useless as a bearer token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from uuid import UUID

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from scoreboard.domain.errors import Reason, Unauthenticated

STREAM_AUDIENCE = "scoreboard:stream"
_KEY_CONTEXT = b"scoreboard/realtime-token/v1"


class RealtimeTokens:
    def __init__(self, ticket_secret: str, ttl_s: int) -> None:
        derived = hmac.new(ticket_secret.encode(), _KEY_CONTEXT, hashlib.sha256).hexdigest()
        self._key = OctKey.import_key(derived)
        self.ttl_s = ttl_s

    def issue(self, user_id: UUID) -> str:
        now = int(time.time())
        claims = {"sub": str(user_id), "aud": STREAM_AUDIENCE, "iat": now, "exp": now + self.ttl_s}
        return jwt.encode({"alg": "HS256"}, claims, self._key, algorithms=["HS256"])

    def verify(self, token: str) -> UUID:
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            registry = jwt.JWTClaimsRegistry(
                leeway=5,
                exp={"essential": True},
                aud={"essential": True, "value": STREAM_AUDIENCE},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
            return UUID(str(decoded.claims["sub"]))
        except ExpiredTokenError as error:
            raise Unauthenticated("the stream token has expired", reason=Reason.TOKEN_EXPIRED) from error
        except (JoseError, ValueError, TypeError) as error:
            raise Unauthenticated("the stream token is not valid", reason=Reason.TOKEN_INVALID) from error
