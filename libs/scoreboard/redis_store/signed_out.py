"""The admin page's signed-out sessions (docs/decisions/0013-admin-page-sign-in.md).

The session is a signed cookie, valid by itself until its end. Signing out clears the browser's
copy; this list makes any other copy (one stolen before) worthless too: each signed-out session
is one key that expires when the session would have ended, so the list holds only what could
still be presented. Only sign-outs write; every session-authenticated request reads one key.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from scoreboard.redis_store.keys import SIGNED_OUT_PREFIX


def _key(session_secret: str) -> str:
    # A digest, not the session's own secret: whoever reads Redis learns nothing to present.
    return SIGNED_OUT_PREFIX + hashlib.sha256(session_secret.encode()).hexdigest()


async def sign_out(redis: Redis, session_secret: str, remaining_s: float) -> None:
    await redis.set(_key(session_secret), b"1", px=max(1, int(remaining_s * 1000)))


async def signed_out(redis: Redis, session_secret: str) -> bool:
    return bool(await redis.exists(_key(session_secret)))
