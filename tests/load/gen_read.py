"""The read generator: closed-loop GETs of one path on keep-alive connections."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tests.load.http import Connection, HttpError
from tests.load.procs import CONNECTED, DONE, ERRORS, Control
from tests.load.stats import Histogram


@dataclass
class ReadConfig:
    host: str
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200
    concurrency: int = 16
    duration_s: float = 10.0


@dataclass
class ReadResult:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    statuses: dict[str, int] = field(default_factory=dict)


async def run(config: ReadConfig, control: Control) -> ReadResult:
    result = ReadResult()
    connections = [Connection(config.host, config.port) for _ in range(config.concurrency)]
    control.set(CONNECTED, 1)
    await control.wait_go()
    deadline = time.perf_counter() + config.duration_s

    async def loop(connection: Connection) -> None:
        while time.perf_counter() < deadline and not control.stop.is_set():
            sent = time.perf_counter()
            try:
                reply = await connection.request("GET", config.path, config.headers)
            except HttpError as error:
                status = f"io-{str(error).split(':')[0]}"
            else:
                if reply.status == config.expect:
                    result.ok += 1
                    result.latency.record(time.perf_counter() - sent)
                    control.add(DONE)
                    continue
                status = str(reply.status)
            result.errors += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            control.add(ERRORS)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    result.seconds = time.perf_counter() - started
    return result
