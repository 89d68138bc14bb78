"""A privacy choice reaches every process: two APIs' reads, a live stream and a new snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.processes import ServiceProcess
from tests.e2e.stacks import two_apis
from tests.e2e.tops import WAIT_S, Top, first_top, poll_top, watch_top
from tests.factories import Player

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    with two_apis(database_url, redis_url, tmp_path) as services:
        yield services


def naming(user: str) -> Callable[[Top], bool]:
    return lambda top: any(entry["userId"] == user for entry in top)


def without(user: str) -> Callable[[Top], bool]:
    return lambda top: bool(top) and all(entry["userId"] != user for entry in top)


async def test_going_private_reaches_every_read_and_stream(stack: dict[str, ServiceProcess]) -> None:
    ann = Player("Ann")
    user = str(ann.user_id)
    async with httpx.AsyncClient(base_url=stack["api1"].url, timeout=10) as api:
        assert (await ann.play(api, "quiz")).status_code == 200
        for service in ("api1", "api2"):
            await poll_top(stack[service].url, naming(user))
        connected = asyncio.Event()  # once the stream's Top 10 names the user
        live = asyncio.create_task(watch_top(stack["gateway"].url, without(user), connected, naming(user)))
        await asyncio.wait_for(connected.wait(), WAIT_S)

        started = time.monotonic()
        assert (
            await api.put("/api/me/privacy", json={"public": False}, headers=ann.headers())
        ).status_code == 200
        seen = await asyncio.gather(
            poll_top(stack["api1"].url, without(user)), poll_top(stack["api2"].url, without(user)), live
        )

    snapshot = await first_top(stack["gateway"].url)
    assert snapshot[0] == {"userId": None, "displayName": "Anonymous", "score": 10, "rank": 1}
    print(f"privacy reached api1, api2, the live stream in {[round(t - started, 3) for t in seen]} s")
