"""The three processes started through the `scoreboard` command, a real HTTP and SSE client."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from scoreboard.embedded import free_port
from tests.factories import Player, service_environment
from tests.processes import SCOREBOARD, ServiceProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    env = service_environment(database_url, redis_url)
    services = {
        name: ServiceProcess(name, env, log_path=tmp_path / f"{name}.log")
        for name in ("api", "worker", "gateway")
    }
    try:
        for service in services.values():
            service.start(wait_for="/readyz")
        yield services
    finally:
        codes = {name: service.stop() for name, service in services.items()}
        # uvicorn re-raises SIGTERM after its graceful shutdown; arq exits 0.
        assert codes == {"api": -signal.SIGTERM, "worker": 0, "gateway": -signal.SIGTERM}, codes
        for name in ("api", "gateway"):
            assert "Application shutdown complete" in (tmp_path / f"{name}.log").read_text()


async def _events(gateway: str, wanted: int, received: list[dict[str, object]], ready: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(timeout=15) as client,
        aconnect_sse(client, "GET", f"{gateway}/api/realtime/stream") as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            if not event.data:
                continue
            received.append({"type": event.event, "id": event.id, **json.loads(event.data)})
            ready.set()
            if len(received) >= wanted:
                return


async def test_an_increment_reaches_a_stream_listener(stack: dict[str, ServiceProcess]) -> None:
    received: list[dict[str, object]] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(_events(stack["gateway"].url, 3, received, ready))
    await asyncio.wait_for(ready.wait(), 10)  # the Top 10 snapshot arrived first
    alice = Player("Alice")
    async with httpx.AsyncClient(base_url=stack["api"].url, timeout=10) as api:
        result = await alice.play(api, "quiz")
        assert result.status_code == 200, result.text
        assert result.json()["newScore"] == 10
        await asyncio.wait_for(listener, 10)
        top = (await api.get("/api/leaderboard/top")).json()

    snapshot, *updates = received
    assert snapshot["type"] == "leaderboard_updated"
    assert snapshot["top10"] == []
    by_type = {event["type"]: event for event in updates}
    assert by_type["user_score_updated"]["userId"] == str(alice.user_id)
    assert by_type["user_score_updated"]["newScore"] == 10
    assert by_type["leaderboard_updated"]["top10"] == [
        {"userId": str(alice.user_id), "displayName": "Alice", "score": 10, "rank": 1}
    ]
    assert top == by_type["leaderboard_updated"]["top10"]


def test_migrate_against_an_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    env = {"SCOREBOARD_DATABASE_URL": unreachable, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [SCOREBOARD, "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "cannot reach the database" in done.stderr
    assert "Traceback" not in done.stderr
