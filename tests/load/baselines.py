"""Baselines measured in the same run as the product, so ratios survive a noisy machine.

* write: a bare asyncpg loop calling the same increment function, same pool size and concurrency;
* read: a Starlette endpoint returning fixed bytes, under uvicorn with the API's settings;
* fanout: a minimal sse-starlette endpoint, one generator per client, fed by one XREAD reader;
* rebuild: one query and pipelined ZADDs, the floor for copying a board from PostgreSQL to Redis.

`python -m tests.load.baselines fixed|sse --port N ...` serves the two HTTP baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from devstack.net import free_port
from scoreboard.domain.ranking import encode_member, to_micros
from tests.load.gen_write import PhaseResult
from tests.load.procs import CONNECTED, DONE, ERRORS, Control

_APPLY = "SELECT * FROM scoreboard_apply_increment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
BASELINE_BOARD = "bench-baseline"  # its rows stay off the product's `global` board


# --- write: the bare asyncpg loop ----------------------------------------------------------------


@dataclass
class AsyncpgLoopConfig:
    database_url: str
    pool_size: int
    concurrency: int
    duration_s: float
    users: int = 1000


async def asyncpg_loop(config: AsyncpgLoopConfig, control: Control) -> PhaseResult:
    """The API's increment transaction and nothing else: same function, pool size, concurrency."""
    users = [uuid.uuid4() for _ in range(config.users)]
    pool = await asyncpg.create_pool(
        config.database_url, min_size=config.pool_size, max_size=config.pool_size
    )
    result = PhaseResult(0.0, config.duration_s)
    control.set(CONNECTED, 1)
    await control.wait_go()
    deadline = time.perf_counter() + config.duration_s

    async def loop(worker: int) -> None:
        index = worker
        while time.perf_counter() < deadline and not control.stop.is_set():
            index += 1
            user = users[index % len(users)]
            sent = time.perf_counter()
            try:
                await pool.fetchrow(
                    _APPLY,
                    BASELINE_BOARD,
                    user,
                    "Bench",
                    uuid.uuid4(),
                    "default",
                    1,
                    "0" * 64,
                    "default",
                    "127.0.0.1",
                    "loadgen",
                    None,
                )
            except (asyncpg.PostgresError, OSError) as error:
                result.errors += 1
                result.statuses[type(error).__name__] = result.statuses.get(type(error).__name__, 0) + 1
                control.add(ERRORS)
                continue
            result.ok += 1
            result.increment.record(time.perf_counter() - sent)
            control.add(DONE)

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(config.concurrency)))
    result.seconds = time.perf_counter() - started
    await pool.close()
    return result


# --- rebuild: one query, pipelined ZADDs -------------------------------------------------------


async def bare_rebuild(database_url: str, redis_url: str, board_id: str, key: str) -> tuple[float, int]:
    """Seconds to copy a board's scores into a scratch ZSET (then deleted), and how many."""
    connection = await asyncpg.connect(database_url)
    redis = Redis.from_url(redis_url)
    started = time.perf_counter()
    count = 0
    try:
        async with connection.transaction():
            pipe = redis.pipeline(transaction=False)
            cursor = connection.cursor(
                "SELECT user_id, score, reached_at FROM scores WHERE board_id = $1", board_id, prefetch=10_000
            )
            async for row in cursor:
                pipe.zadd(key, {encode_member(row["user_id"], to_micros(row["reached_at"])): row["score"]})
                count += 1
                if count % 10_000 == 0:
                    await pipe.execute()
            await pipe.execute()
        elapsed = time.perf_counter() - started
        await redis.delete(key)
    finally:
        await connection.close()
        await redis.aclose()
    return elapsed, count


# --- HTTP baselines, served under uvicorn ------------------------------------------------------


def fixed_bytes_app(body: bytes) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def fixed(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(routes=[Route("/fixed", fixed), Route("/healthz", healthz)])


def sse_app(redis_url: str) -> Any:
    from sse_starlette import EventSourceResponse, ServerSentEvent
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    clients: set[asyncio.Queue[tuple[str, str, str]]] = set()

    async def reader(redis: Redis) -> None:
        last = "$"
        while True:
            reply = await redis.xread({"scores.updated": last}, block=5000, count=500)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    item = (last, fields[b"type"].decode(), fields[b"data"].decode())
                    for queue in clients:
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.put_nowait(item)

    async def stream(request: Request) -> Response:
        queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(maxsize=256)
        clients.add(queue)

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                while True:
                    entry_id, event_type, data = await queue.get()
                    yield ServerSentEvent(data=data, event=event_type, id=entry_id)
            finally:
                clients.discard(queue)

        return EventSourceResponse(events(), ping=15)

    async def healthz(request: Request) -> Response:
        return Response(b"ok")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = Redis.from_url(redis_url)
        task = asyncio.create_task(reader(redis))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()

    return Starlette(routes=[Route("/stream", stream), Route("/healthz", healthz)], lifespan=lifespan)


class BaselineServer:
    """One baseline app in its own uvicorn process, with the API's uvicorn settings."""

    def __init__(self, kind: str, *args: str, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", "tests.load.baselines", kind, "--port", str(self.port), *args]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 20.0) -> BaselineServer:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"baseline {self.command[3]} exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"baseline {self.command[3]} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def main() -> None:
    import uvicorn

    from tests.load.procs import raise_open_files_limit

    parser = argparse.ArgumentParser(prog="python -m tests.load.baselines")
    parser.add_argument("kind", choices=["fixed", "sse"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    raise_open_files_limit()
    if args.kind == "fixed":
        app = fixed_bytes_app(args.body_file.read_bytes() if args.body_file else b"[]")
    else:
        app = sse_app(args.redis_url)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
