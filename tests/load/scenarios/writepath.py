"""writepath: CPU per ticket + increment inside the API process, without the network or uvicorn.

The app is called in process (its ASGI interface, the lifespan run) on real servers, as the
`write` scenario's players call it over HTTP: a ticket (`POST /api/actions`), then the signed
increment, `concurrency` players at a time (so group commit batches as it does under load).
CPU time of the thread running the app (`time.thread_time`) per increment, minus what the client
side spent signing and parsing, is what the machine's other load disturbs least. PostgreSQL's and Redis's
CPU is not in it (they are other processes); `py-spy record --pid` on this process profiles it.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import uuid
from typing import Any

import uvloop
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from scoreboard.domain.windows import ALL
from scoreboard.redis_store.keys import BoardKeys
from services.api.app import create_app
from tests.factories import api_settings
from tests.load.gen_write import TICKET_BODY, Player
from tests.load.report import Report
from tests.load.scenarios.common import Options
from tests.load.stack import Stack
from tests.waiting import eventually

Headers = dict[str, str]
ROUNDS = 10  # the machine is shared: the least disturbed round is the figure to compare


def _scope(path: str, headers: Headers, body: bytes) -> dict[str, Any]:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [*raw, (b"content-length", str(len(body)).encode()), (b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }


async def _call(app: Any, path: str, headers: Headers, body: bytes) -> tuple[int, bytes]:
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(_scope(path, headers, body), receive, send)
    return answer["status"], answer["body"]


class Flow:
    """Players taking a ticket and posting the increment, counting the client side's CPU apart."""

    def __init__(self, app: Any, players: list[Player]) -> None:
        self.app = app
        self.players = players
        self.client_cpu_s = 0.0
        self.statuses: dict[int, int] = {}

    async def play(self, player: Player) -> None:
        status, body = await _call(self.app, "/api/actions", player.auth, TICKET_BODY)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 201:
            return
        started = time.thread_time()
        headers, payload = player.increment(body)
        self.client_cpu_s += time.thread_time() - started
        status, _ = await _call(self.app, "/api/scores/increment", headers, payload)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def run(self, count: int, concurrency: int) -> None:
        left = iter(range(count))

        async def player_loop(offset: int) -> None:
            for index in left:
                await self.play(self.players[(index + offset) % len(self.players)])

        await asyncio.gather(*(player_loop(i) for i in range(concurrency)))


class CollectorTime:
    """Wall time inside the garbage collector (a gc.callbacks entry): its share of the CPU here."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


async def _board_ready(redis_url: str, timeout_s: float = 60) -> None:
    """Until the worker has built the board: before that, ranks come from PostgreSQL."""
    redis = Redis.from_url(redis_url)
    try:
        await eventually(lambda: redis.exists(BoardKeys("global", ALL).ready), timeout_s=timeout_s)
    finally:
        await redis.aclose()


async def measure(stack: Stack, count: int, concurrency: int, users: int) -> dict[str, float]:
    players = [Player(str(uuid.uuid4()), f"Path {i}") for i in range(users)]
    settings = api_settings(
        stack.database_url,
        stack.redis_url,
        rate_limit_user_per_min=10_000_000,
        rate_limit_ip_per_min=100_000_000,
    )
    await _board_ready(stack.redis_url)
    rounds: list[float] = []  # CPU per increment of each round, client side taken out
    collector = CollectorTime()
    async with LifespanManager(create_app(settings)) as manager:
        await Flow(manager.app, players).run(min(count, 500), concurrency)  # warm: connections, rows
        gc.callbacks.append(collector)
        for _ in range(ROUNDS):
            flow = Flow(manager.app, players)
            started = time.thread_time()
            await flow.run(count // ROUNDS, concurrency)
            rounds.append((time.thread_time() - started - flow.client_cpu_s) / (count // ROUNDS))
            if set(flow.statuses) != {200, 201}:
                raise RuntimeError(f"not every request succeeded: {flow.statuses}")
    gc.callbacks.remove(collector)
    return {
        "gc_us": collector.seconds / (count // ROUNDS * ROUNDS) * 1e6,
        "least_us": min(rounds) * 1e6,
        "median_us": statistics.median(rounds) * 1e6,
        "rounds_us": [r * 1e6 for r in rounds],
        "client_us": flow.client_cpu_s / (count // ROUNDS) * 1e6,
    }


async def run(options: Options) -> Report:
    count = options.pick(None, 300, 6_000)
    concurrency = options.pick(options.concurrency, 8, 32)
    users = options.pick(options.users, 50, 2_000)
    report = Report(
        "writepath",
        "smoke" if options.smoke else "full",
        {"increments": count, "concurrency": concurrency, "users": users},
    )
    stack = await Stack.start(services=("worker",))  # it builds the board (ranks from Redis)
    try:
        # uvloop, as uvicorn runs the API (the harness's own loop is asyncio's)
        measured = await asyncio.to_thread(uvloop.run, measure(stack, count, concurrency, users))
    finally:
        await stack.astop()
    report.add(
        "API CPU per ticket + increment, least disturbed round", measured["least_us"], "us", better="lower"
    )
    report.add("API CPU per ticket + increment, median round", measured["median_us"], "us", better="lower")
    report.add("increments per API CPU-second (least disturbed)", 1e6 / measured["least_us"], "ops/cpu-s")
    report.add("of which the garbage collector, per increment", measured["gc_us"], "us", better="lower")
    report.add("client side (signing, parsing), left out", measured["client_us"], "us")
    report.details = measured
    return report
