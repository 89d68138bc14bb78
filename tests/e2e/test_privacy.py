"""A privacy choice reaches every process: two APIs' reads, a live stream and a new snapshot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from devstack.processes import ServiceProcess, running
from tests.factories import Player, service_environment

pytestmark = pytest.mark.e2e
WAIT_S = 10.0  # generous on a busy machine; the contract (2 s) is measured, not timed, here


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    env = service_environment(database_url, redis_url)
    services = {
        name: ServiceProcess(name.rstrip("12"), env, log_path=tmp_path / f"{name}.log")
        for name in ("api1", "api2", "worker", "gateway")
    }
    with running(services):
        yield services


async def first_top(gateway: str) -> list[dict[str, Any]]:
    async with (
        httpx.AsyncClient(timeout=10) as client,
        aconnect_sse(client, "GET", f"{gateway}/api/realtime/stream") as source,
    ):
        async for event in source.aiter_sse():
            if event.event == "leaderboard_updated":
                top: list[dict[str, Any]] = json.loads(event.data)["top10"]
                return top
    raise AssertionError("the stream ended without a Top 10")


async def watch_until_hidden(gateway: str, user: str, connected: asyncio.Event) -> float:
    """Follow a live stream until a Top 10 no longer names the user; when that happened."""
    async with (
        httpx.AsyncClient(timeout=WAIT_S) as client,
        aconnect_sse(client, "GET", f"{gateway}/api/realtime/stream") as source,
    ):
        async for event in source.aiter_sse():
            if event.event != "leaderboard_updated":
                continue
            top = json.loads(event.data)["top10"]
            if any(entry["userId"] == user for entry in top):
                connected.set()
            elif connected.is_set() and top:
                return time.monotonic()
    raise AssertionError("the stream ended")


async def poll_until_hidden(api: str, user: str) -> float:
    async with httpx.AsyncClient(base_url=api, timeout=5) as client:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            top = (await client.get("/api/leaderboard/top")).json()
            if top and all(entry["userId"] != user for entry in top):
                return time.monotonic()
            await asyncio.sleep(0.05)
    raise AssertionError(f"{api} still names the user after {WAIT_S} s")


async def test_going_private_reaches_every_read_and_stream(stack: dict[str, ServiceProcess]) -> None:
    ann = Player("Ann")
    user = str(ann.user_id)
    async with httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as api:
        assert (await ann.play(api, "quiz")).status_code == 200
        for service in ("api1", "api2"):
            await poll_until_named(stack[service].url, user)
        connected = asyncio.Event()
        live = asyncio.create_task(watch_until_hidden(stack["gateway"].url, user, connected))
        await asyncio.wait_for(connected.wait(), WAIT_S)

        started = time.monotonic()
        assert (
            await api.put("/api/me/privacy", json={"public": False}, headers=ann.headers())
        ).status_code == 200
        seen = await asyncio.gather(
            poll_until_hidden(stack["api1"].url, user), poll_until_hidden(stack["api2"].url, user), live
        )

    snapshot = await first_top(stack["gateway"].url)
    assert snapshot[0] == {"userId": None, "displayName": "Anonymous", "score": 10, "rank": 1}
    print(f"privacy reached api1, api2, the live stream in {[round(t - started, 3) for t in seen]} s")


async def poll_until_named(api: str, user: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=5) as client:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if any(entry["userId"] == user for entry in (await client.get("/api/leaderboard/top")).json()):
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{api} never showed the user")
