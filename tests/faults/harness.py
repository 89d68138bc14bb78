"""A fault-injection harness: real servers and processes, a steady signed load, an SSE watcher.

Everything listens on loopback, on ports taken from the OS, and everything started is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from devstack.stack import LocalStack
from scoreboard.db.score_events import totals_mismatch
from scoreboard.domain.ranking import decode_member, to_micros
from scoreboard.redis_store.errors import UNAVAILABLE_ERRORS
from scoreboard.redis_store.keys import BoardKeys
from tests.factories import Player, service_environment
from tests.servers import ON_CLUSTER, redis_client

# Seconds of load around each fault: short in CI, longer on demand (SCOREBOARD_FAULT_LOAD_S=20).
LOAD_S = float(os.environ.get("SCOREBOARD_FAULT_LOAD_S", "2"))
CONVERGENCE_BOUND_S = 30.0


@dataclass
class LoadReport:
    acknowledged: dict[str, str] = field(default_factory=dict)  # actionId -> userId, for every 200
    told: dict[str, int] = field(default_factory=dict)  # actionId -> the newScore its 200 answered
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return dict(self.outcomes)


class Load:
    """Players taking tickets and posting signed increments in a loop, recording every outcome."""

    def __init__(self, api_url: str, players: int = 6) -> None:
        self.api_url = api_url
        self.players = [Player(f"P{index}") for index in range(players)]
        self.report = LoadReport()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._play(player)) for player in self.players]

    async def stop(self) -> LoadReport:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.report

    async def _play(self, player: Player) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10) as client:
            while not self._stop.is_set():
                outcome = await self._one(client, player)
                self.report.outcomes[outcome] += 1
                if outcome != "200":
                    await asyncio.sleep(0.05)

    async def _one(self, client: httpx.AsyncClient, player: Player) -> str:
        try:
            ticket = await client.post("/api/actions", json={"type": "default"}, headers=player.headers())
            if ticket.status_code != 201:
                return f"ticket-{ticket.status_code}"
            headers, body = player.signed(ticket.json())
            response = await client.post("/api/scores/increment", json=body, headers=headers)
        except httpx.HTTPError as error:
            return f"error-{type(error).__name__}"
        if response.status_code == 200:
            self.report.acknowledged[body["actionId"]] = body["userId"]
            self.report.told[body["actionId"]] = response.json()["newScore"]
        return str(response.status_code)


class Watcher:
    """An SSE client that reconnects with Last-Event-ID, as a browser's EventSource does."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.last_id: str | None = None
        self.top10: list[dict[str, Any]] | None = None
        self.version = -1
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as client:
                    url = self.gateway_url + "/api/realtime/stream"
                    async with client.stream("GET", url, headers=headers) as response:
                        if response.status_code == 200:
                            await self._consume(response)
            except httpx.HTTPError:
                pass
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _consume(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if fields.get("id"):
                self.last_id = fields["id"]
            if fields.get("event") == "leaderboard_updated":
                data = json.loads(fields["data"])
                if data["version"] > self.version:
                    self.version, self.top10 = data["version"], data["top10"]
            fields = {}


class FaultStack(LocalStack):
    """The local stack (devstack/stack.py) with the checks a fault test makes around a fault."""

    @classmethod
    async def start(cls, data_dir: Path, *, redis_cluster: bool = ON_CLUSTER) -> FaultStack:
        """`redis_cluster`: the boards on a local Redis Cluster (the queue on its own Redis); by
        default as the run asks (SCOREBOARD_TEST_REDIS_CLUSTER)."""
        stack = cls(data_dir, durable=True, persist=False, redis_cluster=redis_cluster)
        env = service_environment("", "") | {
            "SCOREBOARD_RATE_LIMIT_USER_PER_MIN": "100000",
            "SCOREBOARD_RATE_LIMIT_IP_PER_MIN": "1000000",
            "SCOREBOARD_RECONCILE_MARGIN_S": "5",
        }
        await stack.astart(env)
        return stack

    def url(self, name: str) -> str:
        return self.services[name].url

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def restart(self, name: str) -> None:
        await asyncio.to_thread(self.services[name].start, wait_for="/healthz")

    async def database_scores(self) -> dict[str, tuple[int, int]]:
        connection = await asyncpg.connect(self.database_url, timeout=5)
        try:
            rows = await connection.fetch(
                "SELECT user_id, score, reached_at FROM scores WHERE board_id = 'global'"
            )
            return {str(r["user_id"]): (r["score"], to_micros(r["reached_at"])) for r in rows}
        finally:
            await connection.close()

    async def redis_scores(self) -> dict[str, tuple[int, int]] | None:
        client = redis_client(self.redis_url)
        try:
            keys = BoardKeys("global")
            if not await client.exists(keys.ready):
                return None
            board: dict[str, tuple[int, int]] = {}
            for member, score in await client.zrange(keys.ranking, 0, -1, withscores=True):
                user_id, reached_at_us = decode_member(member.decode())
                board[str(user_id)] = (int(score), reached_at_us)
            return board
        finally:
            await client.aclose()

    async def converge(self, bound_s: float = CONVERGENCE_BOUND_S) -> float:
        """Seconds until Redis equals PostgreSQL; fails past the bound."""
        started = time.monotonic()
        expected = await self.database_scores()
        while (actual := await _quietly(self.redis_scores)) != expected:
            if time.monotonic() - started > bound_s:
                missing = {k: v for k, v in expected.items() if (actual or {}).get(k) != v}
                raise AssertionError(
                    f"Redis did not converge in {bound_s} s; differing: {list(missing.items())[:5]}"
                )
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    async def check_exactly_once(self, report: LoadReport) -> None:
        connection = await asyncpg.connect(self.database_url, timeout=5)
        try:
            assert await totals_mismatch(connection) == [], "a score differs from the sum of its events"
            rows = await connection.fetch("SELECT action_id, user_id, score_after FROM score_events")
        finally:
            await connection.close()
        recorded = Counter(str(row["action_id"]) for row in rows)
        lost = [action for action in report.acknowledged if recorded[action] != 1]
        assert not lost, f"{len(lost)} acknowledged increments are not counted exactly once"
        # What each player was told is what the database holds for that very increment.
        stored = {str(row["action_id"]): row["score_after"] for row in rows}
        misstated = {
            action: (told, stored[action]) for action, told in report.told.items() if stored[action] != told
        }
        assert not misstated, f"answered newScore differs from the database: {list(misstated.items())[:5]}"


async def _quietly(read: Any) -> Any:
    try:
        return await read()
    except UNAVAILABLE_ERRORS:  # redis-py's connection and timeout errors, OSError, error replies
        return None
