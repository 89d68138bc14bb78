"""The runtime flags' copy in Redis, for the gateway (it has no database; ARCHITECTURE.md: Operators).

The API writes it right after a change commits; the worker copies PostgreSQL's state over it
whenever the copy is older or missing (Redis restarted empty, or Redis was away during the
change). A write never replaces a newer version, so a slow writer cannot undo a later change.
After restoring the database from a backup (versions go back), delete the key: the worker
writes it again within a second.
"""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from scoreboard.domain.flags import RuntimeFlags, StoredFlags
from scoreboard.redis_store.keys import RUNTIME_FLAGS
from scoreboard.redis_store.scripts import Script


def encode(stored: StoredFlags) -> bytes:
    return orjson.dumps({"version": stored.version, "flags": stored.flags.to_json()})


def decode(raw: bytes) -> StoredFlags:
    data = orjson.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ValueError("not a runtime flags copy")
    return StoredFlags(RuntimeFlags.from_json(data.get("flags") or {}), data["version"])


def _version(raw: bytes | None) -> int:
    if raw is None:
        return -1
    try:
        return decode(raw).version
    except ValueError:
        return -1  # a damaged copy is replaced


async def read(redis: Redis) -> StoredFlags | None:
    """The copy, or None when there is none yet."""
    raw = await redis.get(RUNTIME_FLAGS)
    return None if raw is None else decode(raw)


async def publish(redis: Redis, stored: StoredFlags) -> bool:
    """Write `stored` unless the copy is already as new; True when written. One round trip when
    nothing is to be written (the worker asks every tick); otherwise one script compares and
    writes (scripts/publish_flags.lua), which a Redis Cluster runs as well as a single Redis."""
    if _version(await redis.get(RUNTIME_FLAGS)) >= stored.version:
        return False
    publish = Script(redis, "publish_flags")  # scripts/publish_flags.lua
    written = await publish(keys=[RUNTIME_FLAGS], args=[stored.version, encode(stored)])
    return bool(written)
