"""Latency histograms that merge across processes, and the progress line."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

_GROWTH = math.log(1.01)  # 1 % wide buckets: percentiles within 1 %, a few thousand ints at most


@dataclass
class Histogram:
    """Counts of latencies in logarithmic buckets of microseconds; cheap to record and to pickle."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def record(self, seconds: float) -> None:
        micros = max(seconds * 1e6, 1.0)
        index = int(math.log(micros) / _GROWTH)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)

    def merge(self, other: Histogram) -> Histogram:
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += other.count
        self.total_s += other.total_s
        self.max_s = max(self.max_s, other.max_s)
        return self

    def percentile_ms(self, fraction: float) -> float:
        if not self.count:
            return math.nan
        wanted = max(1, math.ceil(self.count * fraction))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= wanted:
                return math.exp((index + 0.5) * _GROWTH) / 1000
        return self.max_s * 1000

    def summary(self) -> dict[str, float]:
        return {
            "count": self.count,
            "mean_ms": self.total_s / self.count * 1000 if self.count else math.nan,
            "p50_ms": self.percentile_ms(0.50),
            "p95_ms": self.percentile_ms(0.95),
            "p99_ms": self.percentile_ms(0.99),
            "max_ms": self.max_s * 1000,
        }


def merged(histograms: list[Histogram]) -> Histogram:
    total = Histogram()
    for histogram in histograms:
        total.merge(histogram)
    return total


class Progress:
    """One line on stderr, rewritten about once a second while a phase runs."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self._last_count = 0
        self._last_at = self.started
        self._tty = sys.stderr.isatty()

    def show(self, count: int, **extra: Any) -> None:
        now = time.monotonic()
        rate = (count - self._last_count) / max(now - self._last_at, 1e-6)
        self._last_count, self._last_at = count, now
        details = " ".join(f"{key}={value}" for key, value in extra.items())
        line = f"[{self.label}] {now - self.started:5.1f}s n={count} ({rate:,.0f}/s) {details}"
        end = "\r" if self._tty else "\n"
        print(line.ljust(100), end=end, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self._tty:
            print(file=sys.stderr)
