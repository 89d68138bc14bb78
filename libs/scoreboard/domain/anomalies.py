"""Anomaly rules and the sliding sums that check them (ARCHITECTURE.md: Operators), without I/O.

The worker feeds committed score events in (services/worker/anomalies.py); a user whose points
in a sliding window break a rule is flagged once. Rules (SCOREBOARD_ANOMALY_RULES):
* absolute: points per minute and per hour, over every action type (`overall`) or one (`types`),
  checked on every event;
* `population`: points per minute above `factor` times the 99th percentile of the other users
  active in the last minute (flagged users left out), once at least `min_active` are; checked
  every tick.

Windows slide in buckets: the minute in 1 s buckets, the hour in 5 s buckets, so a window spans
between one bucket less than its length and its length, and a crossing is seen at most one
bucket late. Memory is a few buckets per user and scope active within the hour.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MINUTE_S, HOUR_S = 60, 3600
MINUTE_BUCKET_S, HOUR_BUCKET_S = 1, 5
OVERALL = ""  # the scope of the `overall` rule: every action type


@dataclass(frozen=True, slots=True)
class Limits:
    per_minute: int | None = None
    per_hour: int | None = None


@dataclass(frozen=True, slots=True)
class Population:
    factor: float
    min_active: int


@dataclass(frozen=True, slots=True)
class Rules:
    overall: Limits = Limits()
    types: Mapping[str, Limits] = field(default_factory=dict)
    population: Population | None = None

    @property
    def empty(self) -> bool:
        limited = [self.overall, *self.types.values()]
        return self.population is None and all(
            limit.per_minute is None and limit.per_hour is None for limit in limited
        )

    def scopes(self, action_type: str) -> list[tuple[str, Limits]]:
        """The scopes an event of this type counts in: overall, and its type's if it has rules."""
        found = [(OVERALL, self.overall)]
        if action_type in self.types:
            found.append((action_type, self.types[action_type]))
        return found


@dataclass(frozen=True, slots=True)
class Flag:
    user: str
    rule: str  # "overall.per_minute", "types.quiz.per_hour", "population"
    observed: dict[str, Any]


class SlidingSum:
    """Points in the last `span_s` seconds, kept in buckets of `bucket_s` seconds."""

    __slots__ = ("_buckets", "_count", "_width", "total")

    def __init__(self, bucket_s: int, span_s: int) -> None:
        self._width = bucket_s
        self._count = span_s // bucket_s
        self._buckets: deque[list[int]] = deque()  # [bucket index, points], oldest first
        self.total = 0

    def add(self, at_s: float, points: int) -> None:
        index = int(at_s // self._width)
        if self._buckets and self._buckets[-1][0] >= index:
            self._buckets[-1][1] += points  # late by less than a bucket, or the same bucket
        else:
            self._buckets.append([index, points])
        self.total += points
        self.expire(at_s)

    def expire(self, now_s: float) -> int:
        oldest_kept = int(now_s // self._width) - self._count + 1
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest_kept:
            self.total -= buckets.popleft()[1]
        return self.total

    def __bool__(self) -> bool:
        return bool(self._buckets)


class _Windows:
    __slots__ = ("hour", "minute")

    def __init__(self) -> None:
        self.minute = SlidingSum(MINUTE_BUCKET_S, MINUTE_S)
        self.hour = SlidingSum(HOUR_BUCKET_S, HOUR_S)


class Detector:
    """Sliding sums per user and scope; each user is flagged at most once (see `forget`)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._windows: dict[tuple[str, str], _Windows] = {}
        self._active: dict[str, SlidingSum] = {}  # user -> overall minute sum (population rule)
        self.flagged: set[str] = set()

    def observe(self, user: str, action_type: str, points: int, at_s: float) -> Flag | None:
        """Count one event; the flag it raises, if it is the user's first crossing."""
        crossed: Flag | None = None
        for scope, limits in self.rules.scopes(action_type):
            windows = self._windows.get((user, scope))
            if windows is None:
                windows = self._windows[(user, scope)] = _Windows()
            windows.minute.add(at_s, points)
            windows.hour.add(at_s, points)
            if scope == OVERALL:
                self._active[user] = windows.minute
            crossed = crossed or _crossing(user, scope, limits, windows)
        if crossed is not None and user not in self.flagged:
            self.flagged.add(user)
            return crossed
        return None

    def population(self, now_s: float) -> list[Flag]:
        """Users far above the active population in the last minute (flagged users left out)."""
        rule = self.rules.population
        if rule is None:
            return []
        per_minute: dict[str, int] = {}
        for user, minute in list(self._active.items()):
            if minute.expire(now_s) == 0:
                del self._active[user]
            elif user not in self.flagged:
                per_minute[user] = minute.total
        if len(per_minute) < rule.min_active:
            return []
        # Each user is compared with the p99 of the others. For anyone above that rank, leaving
        # them out changes nothing below it, so one sorted list serves all (factor >= 1).
        ordered = sorted(per_minute.values())
        p99 = ordered[max(math.ceil(0.99 * (len(ordered) - 1)) - 1, 0)]
        flags = [
            Flag(
                user,
                "population",
                {"points_per_minute": points, "p99": p99, "factor": rule.factor, "active": len(ordered)},
            )
            for user, points in per_minute.items()
            if points > rule.factor * p99
        ]
        self.flagged.update(flag.user for flag in flags)
        return flags

    def prune(self, now_s: float) -> None:
        """Drop the windows of users idle for an hour (bounded memory)."""
        for key, windows in list(self._windows.items()):
            windows.minute.expire(now_s)
            if windows.hour.expire(now_s) == 0 and not windows.hour:
                del self._windows[key]

    def forget(self, user: str) -> None:
        """The user may be flagged again (a reviewer's decision ran out, or was reverted)."""
        self.flagged.discard(user)

    def __len__(self) -> int:
        return len(self._windows)


def _crossing(user: str, scope: str, limits: Limits, windows: _Windows) -> Flag | None:
    prefix = "overall" if scope == OVERALL else f"types.{scope}"
    for name, limit, window in (
        ("per_minute", limits.per_minute, windows.minute),
        ("per_hour", limits.per_hour, windows.hour),
    ):
        if limit is not None and window.total > limit:
            span = MINUTE_S if name == "per_minute" else HOUR_S
            return Flag(user, f"{prefix}.{name}", {"points": window.total, "limit": limit, "window_s": span})
    return None


def percentile(values: Iterable[int], fraction: float) -> int:
    """The nearest-rank percentile (one of the values: no interpolation)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]
