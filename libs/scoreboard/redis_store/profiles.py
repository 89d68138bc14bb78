"""The profile cache `sb:profiles` (user id -> [display name, is public]) that names the boards.

Write-throughs only fill a missing entry (HSETNX): a queued job carrying a name or a privacy
choice from before a change must never bring the old one back. Changes arrive through
`refresh`, from the database's own profile change feed (services/worker/profiles.py).
"""

from __future__ import annotations

from uuid import UUID

import orjson
from redis.asyncio import Redis

from scoreboard.redis_store.keys import PROFILES

Profile = tuple[str, bool]


def profile_value(display_name: str, is_public: bool) -> str:
    return orjson.dumps([display_name, is_public]).decode()


class ProfileCache:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def refresh(self, profiles: dict[UUID, Profile]) -> list[UUID]:
        """Store the profiles that differ from the cached ones; return whose changed."""
        if not profiles:
            return []
        users = list(profiles)
        cached = await self._redis.hmget(PROFILES, [str(user) for user in users])  # type: ignore[misc]
        changed = {
            user: profile_value(*profiles[user])
            for user, raw in zip(users, cached, strict=True)
            if raw is None or orjson.loads(raw) != list(profiles[user])
        }
        if changed:
            await self._redis.hset(PROFILES, mapping={str(u): v for u, v in changed.items()})  # type: ignore[misc]
        return list(changed)
