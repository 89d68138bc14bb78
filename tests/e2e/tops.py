"""The global Top 10 as clients see it: followed on the gateway's live stream, or polled on an
API's /top, until it shows what a test waits for. Each returns the moment it saw it, so that a
test can print how long a change took to arrive (ARCHITECTURE.md: Operators) without asserting it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_sse import aconnect_sse

WAIT_S = 15.0  # generous on a busy machine; the contract's delays are measured, not timed, here
Top = list[dict[str, Any]]


@asynccontextmanager
async def live_tops(gateway: str) -> AsyncIterator[AsyncIterator[Top]]:
    """A live stream's Top 10s, in the order the gateway sends them, until it ends the stream."""
    async with (
        httpx.AsyncClient(timeout=WAIT_S) as client,
        aconnect_sse(client, "GET", f"{gateway}/api/realtime/stream") as source,
    ):
        tops = (
            json.loads(event.data)["top10"]
            async for event in source.aiter_sse()
            if event.event == "leaderboard_updated"
        )
        try:
            yield tops
        finally:
            await tops.aclose()


async def first_top(gateway: str) -> Top:
    """The snapshot a new listener gets."""
    async with live_tops(gateway) as tops:
        async for top in tops:
            return top
    raise AssertionError("the stream ended without a Top 10")


async def watch_top(
    gateway: str,
    until: Callable[[Top], bool],
    connected: asyncio.Event,
    ready: Callable[[Top], bool] = lambda top: True,
) -> float:
    """Follow a live stream: the first Top 10 that is `ready` sets `connected`; return when a
    later one satisfies `until`."""
    async with live_tops(gateway) as tops:
        async for top in tops:
            if connected.is_set() and until(top):
                return time.monotonic()
            if ready(top):
                connected.set()
    raise AssertionError("the stream ended")


async def poll_top(api: str, until: Callable[[Top], bool]) -> float:
    """Read an API's /top every 50 ms until it satisfies `until`."""
    async with httpx.AsyncClient(base_url=api, timeout=5) as client:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if until((await client.get("/api/leaderboard/top")).json()):
                return time.monotonic()
            await asyncio.sleep(0.05)
    raise AssertionError(f"{api} never showed it within {WAIT_S} s")
