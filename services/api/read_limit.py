"""The per-IP limit of the public reads, checked in process memory.

A Top-10 read costs a dict lookup when cached; a Redis round trip per read to count it would
cost more than the read itself. So each API process keeps a token bucket per client address
(`SCOREBOARD_RATE_LIMIT_READ_IP_PER_MIN`, refilled continuously): with N processes behind a
load balancer an address may read up to N times the limit, which still bounds a flood. Memory
is bounded: past `max_subjects`, buckets that have refilled completely are forgotten (they hold
nothing), and if that is not enough, all of them are.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ReadLimiter:
    def __init__(
        self, per_minute: int, *, max_subjects: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60
        self._max_subjects = max_subjects
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # subject -> [tokens, when counted]

    def admit(self, subject: str) -> float:
        """0 when the read is admitted (and counted), else seconds until it would be."""
        now = self._clock()
        bucket = self._buckets.get(subject)
        if bucket is None:
            if len(self._buckets) >= self._max_subjects:
                self._forget_full(now)
            self._buckets[subject] = [self._capacity - 1, now]
            return 0.0
        tokens = min(self._capacity, bucket[0] + (now - bucket[1]) * self._per_second)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            return (1 - tokens) / self._per_second
        bucket[0] = tokens - 1
        return 0.0

    def _forget_full(self, now: float) -> None:
        refill_s = self._capacity / self._per_second
        self._buckets = {
            subject: bucket for subject, bucket in self._buckets.items() if now - bucket[1] < refill_s
        }
        if len(self._buckets) >= self._max_subjects:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)
