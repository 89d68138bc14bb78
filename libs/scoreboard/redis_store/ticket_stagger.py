"""Ticket staggering: `min_seconds` is a rate, not only a duration (ARCHITECTURE.md: Write API).

Each ticket of a type with a minimum duration gets a notBefore at least `min_seconds` after the
previous ticket of that user and type, so twenty tickets collected at once still earn one
action's points per `min_seconds`. The last notBefore lives in Redis (one key per user and type,
expiring when it has passed), so the stagger holds across API processes. While Redis is away
each process staggers on its own (bounded memory): a player reaching several processes during
an outage can gain at most one ticket per process per `min_seconds`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from scoreboard.domain.actions import ActionType
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.keys import ticket_stagger_key
from scoreboard.redis_store.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Slot:
    granted: bool
    not_before_ms: int | None = None  # granted: the new ticket's notBefore (unix ms)
    retry_after_ms: int = 0  # refused: when a ticket would be granted

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.retry_after_ms / 1000))


def _window_ms(action_type: ActionType) -> tuple[int, int]:
    """(min_ms, max ahead): a ticket whose notBefore is past its own expiry would be useless."""
    return int(action_type.min_seconds * 1000), int(action_type.ttl_seconds * 1000)


class LocalStagger:
    """The same policy in process memory, bounded by forgetting the least recently seen keys."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._last: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def reserve(self, key: str, action_type: ActionType) -> Slot:
        min_ms, ahead_ms = _window_ms(action_type)
        now = self._clock() * 1000
        not_before = math.ceil(max(now, self._last.get(key, 0.0)) + min_ms)
        if not_before - now > ahead_ms:
            return Slot(False, retry_after_ms=math.ceil(not_before - now - ahead_ms))
        self._last[key] = not_before
        self._last.move_to_end(key)
        if len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        return Slot(True, not_before)


class TicketStagger:
    def __init__(self, redis: Redis, on_fallback: Callable[[], None] | None = None) -> None:
        self._script = Scripts(redis).reserve_ticket_slot  # scripts/reserve_ticket_slot.lua
        self._local = LocalStagger()
        self._on_fallback = on_fallback

    async def reserve(self, user_id: str, action_type: ActionType) -> Slot:
        """The next slot of this user for this type; types without a minimum need none."""
        if action_type.min_seconds <= 0:
            return Slot(True)
        key = ticket_stagger_key(user_id, action_type.name)
        min_ms, ahead_ms = _window_ms(action_type)
        try:
            granted, value = await self._script(keys=[key], args=[min_ms, ahead_ms])
        except UNAVAILABLE_ERRORS:
            if self._on_fallback:
                self._on_fallback()
            return self._local.reserve(key, action_type)
        return Slot(True, int(value)) if granted else Slot(False, retry_after_ms=int(value))
