"""Sliding-window rate limits: atomic in Redis, with an in-process stand-in when Redis is down.

The window is a log of admitted request times (a sorted set per subject). A request is admitted
while fewer than `limit` were admitted in the last `window`; when refused, Retry-After is when
the oldest admitted request leaves the window, so retrying then succeeds. Refused requests are
not logged, so hammering does not extend the wait.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.keys import rate_limit_key
from scoreboard.redis_store.scripts import Scripts

WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class Check:
    scope: str
    subject: str
    limit: int


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int


def _decision(admitted: bool, limit: int, remaining: int, retry_ms: float, reset_ms: float) -> Decision:
    return Decision(
        admitted=admitted,
        limit=limit,
        remaining=max(0, remaining),
        retry_after_s=max(1, math.ceil(retry_ms / 1000)) if not admitted else 0,
        reset_s=max(0, math.ceil(reset_ms / 1000)),
    )


class LocalSlidingWindow:
    """The same policy in process memory; bounded by evicting the least recently seen subjects."""

    def __init__(self, max_subjects: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_subjects = max_subjects
        self._clock = clock

    def hit(self, key: str, limit: int, window_ms: int = WINDOW_MS) -> Decision:
        now = self._clock() * 1000
        log = self._logs.pop(key, None) or deque()
        while log and log[0] <= now - window_ms:
            log.popleft()
        self._logs[key] = log
        if len(self._logs) > self._max_subjects:
            self._logs.popitem(last=False)
        reset_ms = log[0] + window_ms - now if log else window_ms
        if len(log) < limit:
            log.append(now)
            return _decision(True, limit, limit - len(log), 0, reset_ms)
        return _decision(False, limit, 0, reset_ms, reset_ms)


class RateLimiter:
    def __init__(self, redis: Redis, on_fallback: Callable[[], None] | None = None) -> None:
        self._script = Scripts(redis).sliding_windows  # scripts/sliding_windows.lua
        self._cluster = isinstance(redis, RedisCluster)
        self._local = LocalSlidingWindow()
        self._on_fallback = on_fallback

    async def hit(self, *checks: Check) -> list[Decision]:
        """Run the checks in order, in one round trip; stop at the first refusal. On a Redis
        Cluster each check's log has its own slot (redis_store/keys.py), so each check is its own
        script call, made only when the checks before it admitted."""
        keys = [rate_limit_key(check.scope, check.subject) for check in checks]
        token = secrets.token_hex(8)
        try:
            if not self._cluster:
                return self._decisions(checks, await self._run(keys, checks, token))
            decisions: list[Decision] = []
            for key, check in zip(keys, checks, strict=True):
                decisions += self._decisions((check,), await self._run([key], (check,), token))
                if not decisions[-1].admitted:
                    break
            return decisions
        except UNAVAILABLE_ERRORS:
            if self._on_fallback:
                self._on_fallback()
            return self._hit_locally(keys, checks)

    async def _run(self, keys: list[str], checks: tuple[Check, ...], token: str) -> list[list[int]]:
        args: list[str | int] = [WINDOW_MS, token, *(check.limit for check in checks)]
        raw: list[list[int]] = await self._script(keys=keys, args=args)
        return raw

    @staticmethod
    def _decisions(checks: tuple[Check, ...], raw: list[list[int]]) -> list[Decision]:
        return [
            _decision(bool(admitted), check.limit, remaining, retry_ms, reset_ms)
            for check, (admitted, remaining, retry_ms, reset_ms) in zip(checks, raw, strict=False)
        ]

    def _hit_locally(self, keys: list[str], checks: tuple[Check, ...]) -> list[Decision]:
        decisions = []
        for key, check in zip(keys, checks, strict=True):
            decision = self._local.hit(key, check.limit)
            decisions.append(decision)
            if not decision.admitted:
                break
        return decisions
