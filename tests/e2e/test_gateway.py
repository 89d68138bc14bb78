"""The SSE gateway as a real process: snapshot, resume, isolation, slow clients, drain."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from devstack.processes import ServiceProcess
from scoreboard.domain.events import leaderboard_updated, user_score_updated
from scoreboard.domain.models import RankedEntry
from scoreboard.redis_store import events
from scoreboard.security.realtime_tokens import RealtimeTokens
from tests.factories import TICKET_SECRET, service_environment
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


def _gateway(database_url: str, redis_url: str, tmp_path: Path, **extra: str) -> ServiceProcess:
    env = service_environment(database_url, redis_url) | extra
    return ServiceProcess("gateway", env, log_path=tmp_path / "gateway.log")


@pytest.fixture
def gateway(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = _gateway(
        database_url, redis_url, tmp_path, SCOREBOARD_SSE_HEARTBEAT_S="0.3", SCOREBOARD_SSE_SEND_TIMEOUT_S="1"
    )
    process.start(wait_for="/readyz")
    yield process
    process.stop()


def stream_token(user_id: uuid.UUID) -> str:
    return RealtimeTokens(TICKET_SECRET, 60).issue(user_id)


async def publish_score(redis: Redis, user_id: uuid.UUID, score: int, *, public: bool) -> str:
    payload = user_score_updated("global", "all", user_id, score, rank=1 if public else 42)
    return await events.append(redis, payload, maxlen=10_000, user_id=str(user_id), public=public)


async def publish_top(redis: Redis, version: int, score: int) -> str:
    entry = RankedEntry(1, uuid.uuid4(), "Top", True, score)
    return await events.append(redis, leaderboard_updated("global", "all", version, [entry]), maxlen=10_000)


class SseReader:
    """Reads raw SSE lines, so comments and retry fields are visible too."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if not line:
                    if "data" in fields or "retry" in fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields.setdefault(name or "comment", value.removeprefix(" "))
        return fields

    async def next_data_event(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            event = await self.next_event(timeout)
            if "data" in event:
                return {"id": event.get("id"), "event": event.get("event"), **json.loads(event["data"])}


async def open_stream(client: httpx.AsyncClient, url: str, **headers: str) -> tuple[Any, SseReader]:
    context = client.stream("GET", url, headers=headers)
    response = await context.__aenter__()
    return context, SseReader(response)


async def until_the_gateway_holds_top(gateway: ServiceProcess, version: int) -> None:
    """Wait until the gateway has read the Top 10 of `version`: a new stream starts with its newest."""
    async with httpx.AsyncClient(timeout=10) as client:
        context, reader = await open_stream(client, gateway.url + "/api/realtime/stream")
        try:
            while True:
                event = await reader.next_data_event()
                if event["event"] == "leaderboard_updated" and event["version"] >= version:
                    return
        finally:
            await context.__aexit__(None, None, None)


async def test_snapshot_first_then_live_events(gateway: ServiceProcess, redis: Redis) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        context, reader = await open_stream(client, gateway.url + "/api/realtime/stream")
        try:
            assert reader.response.status_code == 200
            assert reader.response.headers["x-accel-buffering"] == "no"
            snapshot = await reader.next_data_event()
            assert snapshot["event"] == "leaderboard_updated"
            entry_id = await publish_top(redis, 10, 99)
            live = await reader.next_data_event()
            assert live["id"] == entry_id
            assert live["top10"][0]["score"] == 99
        finally:
            await context.__aexit__(None, None, None)


async def test_last_event_id_replays_the_owners_missed_events_then_the_newest_top_10(
    gateway: ServiceProcess, redis: Redis
) -> None:
    alice = uuid.uuid4()
    seen = await publish_top(redis, 1, 1)
    await until_the_gateway_holds_top(gateway, 1)
    missed = [await publish_score(redis, alice, n, public=False) for n in (2, 3, 4)]
    await publish_score(redis, alice, 4, public=False)  # the same state announced twice: sent once
    await publish_score(redis, uuid.uuid4(), 5, public=True)  # someone else's, even if flagged public
    await publish_top(redis, 2, 6)
    await publish_top(redis, 3, 7)
    await until_the_gateway_holds_top(gateway, 3)
    async with httpx.AsyncClient(timeout=10) as client:
        url = gateway.url + "/api/realtime/stream"
        resume = {"Last-Event-ID": seen}
        context, reader = await open_stream(client, f"{url}?token={stream_token(alice)}", **resume)
        public_context, public_reader = await open_stream(client, url, **resume)
        try:
            replayed = [await reader.next_data_event() for _ in missed]
            assert [event["id"] for event in replayed] == missed
            assert [event["newScore"] for event in replayed] == [2, 3, 4]
            newest = await reader.next_data_event()
            assert (newest["event"], newest["version"]) == ("leaderboard_updated", 3)  # not 2: state
            public_first = await public_reader.next_data_event()
            assert (public_first["event"], public_first["version"]) == ("leaderboard_updated", 3)
            after = await publish_score(redis, alice, 8, public=False)
            await publish_score(redis, alice, 8, public=False)  # announced again: not sent again
            following = await publish_score(redis, alice, 9, public=False)
            assert (await reader.next_data_event())["id"] == after
            assert (await reader.next_data_event())["id"] == following
        finally:
            for opened in (context, public_context):
                await opened.__aexit__(None, None, None)


async def test_a_trimmed_last_event_id_gets_a_fresh_snapshot(gateway: ServiceProcess, redis: Redis) -> None:
    await publish_top(redis, 3, 30)
    await until_the_gateway_holds_top(gateway, 3)
    async with httpx.AsyncClient(timeout=10) as client:
        context, reader = await open_stream(
            client, gateway.url + "/api/realtime/stream", **{"Last-Event-ID": "1-0"}
        )
        try:
            first = await reader.next_data_event()
            assert first["event"] == "leaderboard_updated"
            assert first["version"] == 3
        finally:
            await context.__aexit__(None, None, None)


async def test_score_events_reach_only_their_owner(gateway: ServiceProcess, redis: Redis) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(timeout=10) as client:
        base = gateway.url + "/api/realtime/stream?token="
        alice_ctx, alice_reader = await open_stream(client, base + stream_token(alice))
        bob_ctx, bob_reader = await open_stream(client, base + stream_token(bob))
        public_ctx, public_reader = await open_stream(client, gateway.url + "/api/realtime/stream")
        try:
            for reader in (alice_reader, bob_reader, public_reader):
                assert (await reader.next_data_event())["event"] == "leaderboard_updated"
            bobs = await publish_score(redis, bob, 11, public=True)  # flagged public by an older worker
            alices = await publish_score(redis, alice, 12, public=False)
            marker = await publish_top(redis, 5, 50)
            assert [(await bob_reader.next_data_event())["id"] for _ in range(2)] == [bobs, marker]
            assert [(await alice_reader.next_data_event())["id"] for _ in range(2)] == [alices, marker]
            assert (await public_reader.next_data_event())["id"] == marker
        finally:
            for context in (alice_ctx, bob_ctx, public_ctx):
                await context.__aexit__(None, None, None)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-token", "token_invalid"),
        # the gateway's own key, but its exp a minute ago: past the 5 s leeway
        (RealtimeTokens(TICKET_SECRET, -60).issue(uuid.uuid4()), "token_expired"),
        (RealtimeTokens("another-secret-0123456789abcdef0123", 60).issue(uuid.uuid4()), "token_invalid"),
    ],
    ids=["garbage", "expired", "another-key"],
)
async def test_a_bad_stream_token_gets_401_before_the_stream(
    gateway: ServiceProcess, token: str, reason: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(gateway.url + "/api/realtime/stream", params={"token": token})
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert response.json()["details"]["reason"] == reason


@pytest.mark.parametrize(
    ("board", "status", "code"),
    [("nosuchboard", 404, "NOT_FOUND"), ("Not.A.Board", 400, "VALIDATION_ERROR")],
)
async def test_an_unknown_or_malformed_board_is_refused_before_the_stream(
    gateway: ServiceProcess, board: str, status: int, code: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(gateway.url + "/api/realtime/stream", params={"board": board})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.headers["x-request-id"]


async def test_heartbeat_comments_keep_idle_streams_alive(gateway: ServiceProcess) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        context, reader = await open_stream(client, gateway.url + "/api/realtime/stream")
        try:
            await reader.next_data_event()
            pinged = False
            async with asyncio.timeout(3):
                async for line in reader._lines:
                    if line.startswith(": ping"):
                        pinged = True
                        break
            assert pinged
        finally:
            await context.__aexit__(None, None, None)


async def test_a_client_that_never_reads_is_evicted_and_others_keep_flowing(
    gateway: ServiceProcess, redis: Redis, tmp_path: Path
) -> None:
    assert gateway.process is not None
    rss_before = _rss_kb(gateway.process.pid)
    owner = uuid.uuid4()  # the stuck clients all follow one user, flooded with its own events
    loop = asyncio.get_running_loop()
    stuck = []
    for _ in range(5):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a tiny window
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", gateway.port))
        path = f"/api/realtime/stream?token={stream_token(owner)}"
        await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        stuck.append(sock)
    async with httpx.AsyncClient(timeout=10) as client:

        async def connections() -> int:
            return int((await client.get(gateway.url + "/readyz")).json()["connections"])

        await eventually(connections, lambda count: count >= len(stuck))
    pad = "x" * 8000
    for n in range(1500):  # ~12 MB per client: more than any kernel buffer on loopback holds
        payload = user_score_updated("global", "all", owner, n, 1) | {"pad": pad}
        await events.append(redis, payload, maxlen=10_000, user_id=str(owner), public=False)
    async with httpx.AsyncClient(timeout=10) as client:
        context, reader = await open_stream(client, gateway.url + "/api/realtime/stream")
        try:
            await reader.next_data_event()
            marker = await publish_top(redis, 9, 9)
            while (await reader.next_data_event())["id"] != marker:
                pass
        finally:
            await context.__aexit__(None, None, None)

        async def evicted() -> float:
            metrics = (await client.get(gateway.url + "/metrics")).text
            return _metric(metrics, "scoreboard_sse_slow_client_evictions_total")

        await eventually(evicted, lambda count: count >= len(stuck), timeout_s=20, interval_s=0.2)
    rss_after = _rss_kb(gateway.process.pid)
    for sock in stuck:
        sock.close()
    log = (tmp_path / "gateway.log").read_text()
    assert "without completing response" not in log  # an eviction is not a server error
    # ~60 MB was sent towards clients that never read: bounded buffers keep the gateway flat.
    print(f"gateway RSS {rss_before} -> {rss_after} KB")
    assert rss_after - rss_before < 30_000, (rss_before, rss_after)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_sigterm_drains_clients_with_a_reconnect_hint(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    process = _gateway(database_url, redis_url, tmp_path).start(wait_for="/readyz")
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            context, reader = await open_stream(client, process.url + "/api/realtime/stream")
            await reader.next_data_event()
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
            goodbye = await reader.next_event(timeout=5)
            assert "retry" in goodbye
            assert int(goodbye["retry"]) > 0
            assert "draining" in goodbye.get("comment", "")
            await context.__aexit__(None, None, None)
        assert process.process.wait(15) in (0, -signal.SIGTERM)
    finally:
        process.stop()
