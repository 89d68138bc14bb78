"""Runtime flags through real processes: an admin flips `increments` and `realtime` off and on,
and every process applies each flip by itself, without a restart (ARCHITECTURE.md: Operators: within
2 s; waited on here with a generous timeout and printed, not asserted as a timing)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from devstack.processes import ServiceProcess
from tests.e2e.stacks import two_apis
from tests.factories import Player

pytestmark = pytest.mark.e2e
WAIT_S = 15.0
ROOT = Player("Root", admin=True)


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    with two_apis(database_url, redis_url, tmp_path) as services:
        yield services


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until `condition` held (checked every 50 ms)."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < WAIT_S, f"{what}: not within {WAIT_S} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def switch(api: httpx.AsyncClient, **flags: Any) -> None:
    body = {**flags, "reason": f"e2e: {flags}"}
    response = await api.put("/api/admin/flags", json=body, headers=ROOT.headers())
    assert response.status_code == 200, response.text


async def follow(gateway: str, opened: asyncio.Event) -> list[Any]:
    """A stream's events until the gateway ends it."""
    seen: list[Any] = []
    async with (
        httpx.AsyncClient(timeout=WAIT_S) as client,
        aconnect_sse(client, "GET", f"{gateway}/api/realtime/stream") as source,
    ):
        async for event in source.aiter_sse():
            seen.append(event)
            if event.event == "leaderboard_updated":
                opened.set()
    return seen


async def test_an_admin_switches_increments_and_realtime_off_and_on(stack: dict[str, ServiceProcess]) -> None:
    alice = Player("Alice")
    gateway = stack["gateway"].url
    observed: dict[str, float] = {}
    async with (
        httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as admin,
        httpx.AsyncClient(base_url=stack["api2"].url, timeout=10) as api,  # applies flips by itself
        httpx.AsyncClient(base_url=gateway, timeout=10) as plain,
    ):

        async def ticket_status() -> int:
            return (await api.post("/api/actions", json={}, headers=alice.headers())).status_code

        async def refused_for_maintenance() -> bool:
            response = await api.post("/api/actions", json={}, headers=alice.headers())
            if response.status_code != 503:
                return False
            assert response.json()["details"]["reason"] == "maintenance"
            assert int(response.headers["retry-after"]) >= 1
            return True

        async def played() -> bool:
            ticket = await api.post("/api/actions", json={}, headers=alice.headers())
            if ticket.status_code != 201:
                return False
            headers, body = alice.signed(ticket.json())
            return (await api.post("/api/scores/increment", json=body, headers=headers)).status_code == 200

        assert await ticket_status() == 201
        await switch(admin, increments=False)
        observed["increments off"] = await until(refused_for_maintenance, "increments off")
        await switch(admin, increments=True)
        observed["increments on"] = await until(played, "increments on")

        opened = asyncio.Event()
        listener = asyncio.create_task(follow(gateway, opened))
        await asyncio.wait_for(opened.wait(), WAIT_S)
        await switch(admin, realtime=False)
        started = time.monotonic()
        events = await asyncio.wait_for(listener, WAIT_S)  # the gateway ended the open stream
        observed["open stream ended"] = time.monotonic() - started
        assert (events[-1].retry or 0) > 0, events[-1]  # it ended with a reconnect hint

        async def new_stream_refused() -> bool:
            response = await plain.get("/api/realtime/stream")
            if response.status_code != 503:
                return False
            assert response.json()["details"]["reason"] == "maintenance"
            return True

        assert await new_stream_refused()
        assert (await plain.get("/readyz")).status_code == 200  # ready: it takes streams back at once
        await switch(admin, realtime=True)

        async def stream_back() -> bool:
            async with plain.stream("GET", "/api/realtime/stream") as response:
                if response.status_code != 200:
                    return False
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        assert json.loads(line[5:])["type"] == "leaderboard_updated"
                        return True
            return False

        observed["realtime on"] = await until(stream_back, "realtime on")
    print("observed after each flip (s):", {name: round(seconds, 3) for name, seconds in observed.items()})
