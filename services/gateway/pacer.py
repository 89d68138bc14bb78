"""Sends a board's newest Top 10 to its listeners: at most one per interval per client.

The reader only records a newer Top 10 (services/gateway/board.py) and wakes the pacer, so a
burst of changes costs one delivery per client per interval, not one per change. A change that
comes after a quiet interval goes out at once (no added latency); one that comes sooner waits
for the interval to end and then goes out as the newest state, never an older one.

A pass writes to `CHUNK` clients, then yields to the event loop, so an owner's own event read
meanwhile is written within one chunk's time, whatever the number of listeners. Each client
remembers the version and time of its last Top 10: a client that got one less than an interval
ago (it just connected, with a snapshot) waits for a later pass instead.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Counter, Histogram

from services.gateway.board import BoardState
from services.gateway.state_interval import StateInterval

CHUNK = 256  # clients written per slice of a pass (~2 ms), between two turns of the event loop
TIMER_SLACK_S = 0.005  # timers may fire a little early (uvloop's clock counts milliseconds)


class StatePacer:
    def __init__(self, board: BoardState, interval: StateInterval, sent: Counter, lag: Histogram) -> None:
        self.board = board
        self.interval = interval
        self._sent = sent
        self._lag = lag  # from the worker's append to the end of the pass that sent it
        self._wake = asyncio.Event()

    def changed(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_start = -float("inf")
        while True:
            await self._wake.wait()
            self._wake.clear()
            interval = self.interval.seconds
            due = last_start + interval
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
                self.interval.observe(loop.time() - due, loop.time())
            last_start = loop.time()
            if await self.send_pass(last_start, interval):
                self._wake.set()  # some clients were not due yet: one more pass, an interval later
            overrun = loop.time() - last_start - interval
            if overrun > 0:  # a pass longer than the interval: we cannot keep up with it
                self.interval.observe(overrun, loop.time())

    async def send_pass(self, start: float, interval: float) -> bool:
        """Hand the newest Top 10 to every client that lacks it and is due; True if some were not."""
        board = self.board
        subscribers = list(board.subscribers)
        not_due = False
        sent = 0
        for offset in range(0, len(subscribers), CHUNK):
            if offset:
                await asyncio.sleep(0)  # let own events (and everything else) through
            top, version = board.top, board.order  # the newest, also after a yield
            if top is None:
                return False
            for subscriber in subscribers[offset : offset + CHUNK]:
                if subscriber.top_version >= version or subscriber.closed:
                    continue
                if start - subscriber.top_at < interval - TIMER_SLACK_S:
                    not_due = True
                    continue
                subscriber.offer_top(top, version, start)
                sent += 1
        if sent:
            self._sent.inc(sent)
            if board.published_ms:
                self._lag.observe(max(0.0, time.time() - board.published_ms / 1000))
        return not_due
