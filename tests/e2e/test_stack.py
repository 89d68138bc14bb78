"""The three processes started through the `scoreboard` command, a real HTTP and SSE client."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from devstack.net import free_port
from devstack.processes import SCOREBOARD, ServiceProcess
from scoreboard.security.realtime_tokens import RealtimeTokens
from tests.factories import TICKET_SECRET, Player, service_environment

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


async def _events(url: str, received: list[dict[str, object]], ready: asyncio.Event) -> None:
    """Collect every data event of one stream until cancelled."""
    async with (
        httpx.AsyncClient(timeout=15) as client,
        aconnect_sse(client, "GET", url) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            if not event.data:
                continue
            received.append({"type": event.event, "id": event.id, **json.loads(event.data)})
            ready.set()


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def test_an_increment_reaches_the_public_stream_as_state_and_its_owner_as_an_event(
    stack: dict[str, ServiceProcess],
) -> None:
    alice = Player("Alice")
    gateway = stack["gateway"].url + "/api/realtime/stream"
    token = RealtimeTokens(TICKET_SECRET, 60).issue(alice.user_id)
    public: list[dict[str, object]] = []
    owner: list[dict[str, object]] = []
    ready = [asyncio.Event(), asyncio.Event()]
    listeners = [
        asyncio.create_task(_events(gateway, public, ready[0])),
        asyncio.create_task(_events(f"{gateway}?token={token}", owner, ready[1])),
    ]
    try:
        for event in ready:
            await asyncio.wait_for(event.wait(), 10)  # the Top 10 snapshot arrived first
        async with httpx.AsyncClient(base_url=stack["api"].url, timeout=10) as api:
            result = await alice.play(api, "quiz")
            assert result.status_code == 200, result.text
            assert result.json()["newScore"] == 10
            await _until(lambda: len(public) >= 2 and any(e["type"] == "user_score_updated" for e in owner))
            await _until(lambda: any(e["type"] == "leaderboard_updated" and e["top10"] for e in owner))
            top = (await api.get("/api/leaderboard/top")).json()
        await asyncio.sleep(0.5)  # anything else on its way would arrive now
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)

    snapshot, update, *rest = public
    assert snapshot["type"] == "leaderboard_updated"
    assert snapshot["top10"] == []
    assert update["type"] == "leaderboard_updated"
    assert update["top10"] == [{"userId": str(alice.user_id), "displayName": "Alice", "score": 10, "rank": 1}]
    assert top == update["top10"]
    assert rest == []  # the public stream carries state only: no one's score event
    own = [e for e in owner if e["type"] == "user_score_updated"]
    assert [(e["userId"], e["newScore"], e["rank"]) for e in own] == [(str(alice.user_id), 10, 1)]


def test_migrate_against_an_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    env = {"SCOREBOARD_DATABASE_URL": unreachable, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [SCOREBOARD, "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "cannot reach the database" in done.stderr
    assert "Traceback" not in done.stderr
