"""read: GET /api/leaderboard/top (cached 200, and 304 with If-None-Match) against a Starlette
endpoint returning the same bytes, under uvicorn with the API's settings, in its own process."""

from __future__ import annotations

import asyncio

import httpx

from tests.factories import Player
from tests.load import gen_read
from tests.load.baselines import BaselineServer
from tests.load.cpus import run_on
from tests.load.gen_read import ReadConfig, ReadResult
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, drive, pinning
from tests.load.stack import Stack
from tests.load.stats import merged

TOP = "/api/leaderboard/top"
ORIGIN = "https://game.example"
SEED_PLAYERS = 20


def combine(parts: list[ReadResult]) -> ReadResult:
    total = ReadResult(seconds=max(p.seconds for p in parts))
    total.latency = merged([p.latency for p in parts])
    for part in parts:
        total.ok += part.ok
        total.errors += part.errors
        for status, count in part.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return total


async def seed(api_url: str) -> tuple[bytes, str]:
    """A full Top 10 (20 players, one action each); returns its body and ETag."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        for index in range(SEED_PLAYERS):
            response = await Player(f"Reader {index}").play(client)
            response.raise_for_status()
        for _ in range(50):
            top = await client.get(TOP)
            if len(top.json()) == 10:
                return top.content, top.headers["etag"]
            await asyncio.sleep(0.1)
    raise RuntimeError("the Top 10 never filled")


async def run(options: Options) -> Report:
    duration = options.pick(options.duration_s, 1.0, 15.0)
    concurrency = options.pick(options.concurrency, 8, 32)
    processes = options.pick(options.generators, 2, 2)
    per_process = max(1, concurrency // processes)
    report = Report(
        "read",
        "smoke" if options.smoke else "full",
        {"duration_s": duration, "concurrency": per_process * processes, "generator_processes": processes},
    )
    # A browser origin allowed by CORS: the cross-origin phase is served by the fast path too.
    stack = await Stack.start(
        extra_env={"SCOREBOARD_CORS_ORIGINS": ORIGIN}, split=options.split, replicas=options.replicas
    )
    baseline: BaselineServer | None = None
    try:
        body, etag = await seed(stack.services["api"].url)
        body_file = stack.workdir / "top.json"
        body_file.write_bytes(body)
        fixed_bytes = BaselineServer(
            "fixed", "--body-file", str(body_file), log_path=stack.workdir / "fixed.log"
        )
        baseline = await asyncio.to_thread(run_on, stack.cores, fixed_bytes.start)
        report.params["cpu_pinning"] = pinning(options, stack.server_pids() | {"baseline": baseline.pid})

        async def measure(
            label: str, port: int, path: str, headers: dict[str, str], expect: int
        ) -> ReadResult:
            config = ReadConfig(LOOPBACK, port, path, headers, expect, per_process, duration)
            return combine(await drive(gen_read.run, [config] * processes, label, duration + 60))

        fixed = await measure("read baseline: fixed bytes", baseline.port, "/fixed", {}, 200)
        cached = await measure("read api: top 200", stack.port("api"), TOP, {}, 200)
        not_modified = await measure(
            "read api: top 304", stack.port("api"), TOP, {"If-None-Match": etag}, 304
        )
        cross_origin = await measure(
            "read api: top 200, cross-origin", stack.port("api"), TOP, {"Origin": ORIGIN}, 200
        )
    finally:
        if baseline is not None:
            baseline.stop()
        await stack.astop()
    _fill(report, fixed, cached, not_modified, len(body))
    report.add_times_baseline(
        "top 200 cross-origin requests/s", _rate(cross_origin), "req/s", _rate(fixed), 0.8, "fixed bytes"
    )
    report.errors += cross_origin.errors
    return report


def _rate(result: ReadResult) -> float:
    return result.ok / result.seconds


def _fill(report: Report, fixed: ReadResult, cached: ReadResult, not_modified: ReadResult, size: int) -> None:
    f, c, n = fixed.latency.summary(), cached.latency.summary(), not_modified.latency.summary()
    report.add_times_baseline("top 200 requests/s", _rate(cached), "req/s", _rate(fixed), 0.8, "fixed bytes")
    report.add("top 304 requests/s", _rate(not_modified), "req/s", baseline=_rate(fixed))
    report.add_times_baseline(
        "top 304 vs top 200 requests/s", _rate(not_modified), "req/s", _rate(cached), 1, "top 200"
    )
    for name, summary in (("top 200", c), ("top 304", n)):
        report.add(f"{name} p50", summary["p50_ms"], "ms", baseline=f["p50_ms"], better="lower")
        report.add(f"{name} p99", summary["p99_ms"], "ms", baseline=f["p99_ms"], better="lower")
    report.errors = fixed.errors + cached.errors + not_modified.errors
    report.details = {
        "body_bytes": size,
        "fixed": {"ok": fixed.ok, "seconds": fixed.seconds, **f, "statuses": fixed.statuses},
        "top_200": {"ok": cached.ok, "seconds": cached.seconds, **c, "statuses": cached.statuses},
        "top_304": {
            "ok": not_modified.ok,
            "seconds": not_modified.seconds,
            **n,
            "statuses": not_modified.statuses,
        },
    }
