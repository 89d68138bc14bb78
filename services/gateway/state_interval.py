"""How often a client may get a new Top 10: the configured interval, widened while we fall behind.

A probe timer measures how late the event loop runs it; the pacer reports how late its own passes
start and how far they overrun. Late by more than `BEHIND_S` `SUSTAINED` times in a row means the
process has more work than CPU (one late timer is only noise: a descheduled process, a stolen
vCPU): the interval is widened (x1.5, at most once per interval in force, up to the maximum),
so the Top 10 broadcast, the one load that grows with listeners x changes, shrinks instead of
queueing behind the owners' own events. Once the loop keeps time again it narrows back step by
step (x0.9 per probe) to the configured interval. The interval in force is a gauge.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Gauge

PROBE_S = 0.1
BEHIND_S = 0.05  # loop lag that counts as falling behind: a fifth of the default interval
SUSTAINED = 3  # late measures in a row before widening (~0.3 s of probes)
CAUGHT_UP_S = 0.01
WIDEN = 1.5
NARROW = 0.9


class StateInterval:
    def __init__(self, base_s: float, max_s: float, gauge: Gauge) -> None:
        self.base_s = base_s
        self.max_s = max(base_s, max_s)
        self.seconds = base_s
        self._gauge = gauge
        self._widened_at = -float("inf")
        self._late = 0  # late measures in a row
        gauge.set(base_s)

    def observe(self, lateness_s: float, now: float) -> None:
        """One measure of how late the loop ran something due at a known time."""
        if lateness_s > BEHIND_S:
            self._late += 1
            # Once per interval in force: the last widening needs that long to show its effect.
            sustained = self._late >= SUSTAINED and now - self._widened_at >= self.seconds
            if sustained and self.seconds < self.max_s:
                self._widened_at = now
                self._late = 0
                self._set(min(self.max_s, self.seconds * WIDEN))
        elif lateness_s < CAUGHT_UP_S:
            self._late = 0
            if self.seconds > self.base_s:
                self._set(max(self.base_s, self.seconds * NARROW))

    def _set(self, seconds: float) -> None:
        self.seconds = seconds
        self._gauge.set(seconds)

    async def probe(self) -> None:
        """Runs for the life of the process: one cheap timer measuring the loop's lag."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + PROBE_S
            await asyncio.sleep(PROBE_S)
            now = loop.time()
            self.observe(now - due, now)
