"""The gateway's runtime flags, read from their Redis copy (the gateway has no database).

`realtime: false` pauses the Broadcaster: every open stream ends with a reconnect hint and new
ones are answered 503 `maintenance` (clients poll the Top 10); `true` takes streams again. The
gateway stays ready meanwhile, so no probe delays the way back. While Redis is away the last
state read stays in force (ARCHITECTURE.md: Operators).
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from scoreboard.config import FlagSettings
from scoreboard.domain.flags import EffectiveFlags
from scoreboard.flags.runtime import FlagsRuntime
from scoreboard.redis_store import flags_mirror
from services.gateway.broadcaster import Broadcaster

log = logging.getLogger("scoreboard.gateway.flags")


def watch_flags(settings: FlagSettings, redis: Redis, broadcaster: Broadcaster) -> FlagsRuntime:
    def apply(flags: EffectiveFlags) -> None:
        if flags.realtime and broadcaster.paused:
            broadcaster.resume()
            log.info("realtime switched on: streams are taken again")
        elif not flags.realtime and not broadcaster.paused:
            log.info(
                "realtime switched off: streams end, new ones get 503",
                extra={"open": len(broadcaster.subscribers)},
            )
            broadcaster.pause()

    return FlagsRuntime(
        settings,
        service="gateway",
        source=lambda: flags_mirror.read(redis),
        source_name="redis-mirror",
        on_change=apply,
    )
