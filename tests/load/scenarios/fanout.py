"""fanout: N SSE clients on one gateway process, M leaderboard events/s injected into the stream,
against a minimal sse-starlette generator-per-client endpoint fed by one XREAD reader.

The injected leaderboard_updated events carry "sentAt" (wall clock just before XADD); the gateway
forwards the data verbatim, so each client measures Redis-to-socket latency itself.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis

from scoreboard.domain.events import leaderboard_updated
from scoreboard.domain.models import DEFAULT_BOARD, RankedEntry
from scoreboard.redis_store import events
from tests.load import gen_sse
from tests.load.baselines import BaselineServer
from tests.load.cpus import run_on
from tests.load.gen_sse import SseConfig, SseResult
from tests.load.procs import CONNECTED, DONE, ERRORS, EXTRA, Generators, run_for, wait_until
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, pinning, sample_gauge, split
from tests.load.stack import Stack, cpu_seconds, rss_kb
from tests.load.stats import Histogram, Progress, merged

STREAM_MAXLEN = 10_000
INTERVAL_GAUGE = "scoreboard_sse_state_interval_seconds"
GRACE_S = 1.5


@dataclass
class Target:
    name: str
    pid: int
    port: int
    path: str
    metrics_url: str | None = None  # the gateway's: its state interval in force is sampled


@dataclass
class Measured:
    clients: int
    connected: int = 0
    failed: int = 0
    dropped: int = 0
    sent: int = 0
    delivered: int = 0
    conflated: int = 0  # events skipped because a newer Top 10 replaced them (by design)
    lost: int = 0  # clients that never got the last Top 10 sent
    out_of_order: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    cpu_s: float = 0.0
    seconds: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    failures: dict[str, int] = field(default_factory=dict)
    intervals_s: list[float] = field(default_factory=list)

    @property
    def rss_per_connection_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(self.connected, 1)

    @property
    def deliveries_per_cpu_s(self) -> float:
        return self.delivered / self.cpu_s if self.cpu_s else float("nan")


def synthetic_top(version: int) -> dict[str, object]:
    entries = [
        RankedEntry(rank, uuid.UUID(int=rank), f"Player {rank}", True, 1_000_000 - rank)
        for rank in range(1, 11)
    ]
    return leaderboard_updated(DEFAULT_BOARD, "all", version, entries)


async def inject(redis: Redis, per_s: float, seconds: float, first_version: int) -> int:
    """XADD leaderboard_updated events on schedule; returns how many were sent."""
    template = synthetic_top(0)
    interval, count = 1.0 / per_s, int(per_s * seconds)
    started = time.perf_counter()
    for index in range(count):
        await asyncio.sleep(max(0.0, started + index * interval - time.perf_counter()))
        payload = template | {"version": first_version + index, "sentAt": time.time()}
        await events.append(redis, payload, maxlen=STREAM_MAXLEN)
    return count


async def measure(
    target: Target, redis: Redis, options: Options, clients: int, per_s: float, seconds: float
) -> Measured:
    processes = options.pick(options.generators, 2, 4)
    result = Measured(clients)
    result.rss_before_kb = rss_kb(target.pid)
    configs = [SseConfig(LOOPBACK, target.port, paths) for paths in split([target.path] * clients, processes)]
    with Generators(gen_sse.run, configs) as generators:
        generators.go.set()
        progress = Progress(f"fanout {target.name}: connecting")
        settled = await wait_until(
            lambda: generators.total(CONNECTED) + generators.total(ERRORS) >= clients,
            timeout_s=180,
            tick=lambda: progress.show(generators.total(CONNECTED), failed=generators.total(ERRORS)),
        )
        progress.done()
        if not settled:
            raise RuntimeError(f"fanout {target.name}: clients did not connect in time")
        await asyncio.sleep(1.0)  # let the server settle its per-connection state
        result.rss_after_kb = rss_kb(target.pid)
        cpu_before, started = cpu_seconds(target.pid), time.perf_counter()
        progress = Progress(f"fanout {target.name}: {per_s:g} events/s")

        def tick() -> None:
            progress.show(
                generators.total(EXTRA), events=generators.total(DONE), errors=generators.total(ERRORS)
            )

        first_version = int(time.time() * 1000)
        injecting = asyncio.ensure_future(inject(redis, per_s, seconds, first_version))
        sampling = (
            asyncio.ensure_future(sample_gauge(target.metrics_url, INTERVAL_GAUGE, result.intervals_s))
            if target.metrics_url
            else None
        )
        await run_for(seconds + GRACE_S, tick)
        result.sent = await injecting
        if sampling is not None:
            sampling.cancel()
        await _settle(generators)
        result.cpu_s = cpu_seconds(target.pid) - cpu_before
        result.seconds = time.perf_counter() - started
        progress.done()
        generators.stop.set()
        parts: list[SseResult] = await asyncio.to_thread(generators.results, 60)
    _collect(result, parts, first_version)
    return result


async def _settle(generators: Generators, timeout_s: float = 15.0) -> None:
    """Wait until deliveries stop (a server with a backlog keeps sending after the last XADD)."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline and (now := generators.total(EXTRA)) != last:
        last = now
        await asyncio.sleep(1.0)


def _collect(result: Measured, parts: list[SseResult], first_version: int) -> None:
    result.latency = merged([p.latency for p in parts])
    for part in parts:
        result.connected += part.connected
        result.failed += part.failed
        result.dropped += part.dropped
        result.out_of_order += part.out_of_order
        for received, clients in part.synthetic_counts.items():
            result.delivered += received * clients
            result.conflated += max(0, result.sent - received) * clients
        final = first_version + result.sent - 1
        result.lost += sum(clients for version, clients in part.last_versions.items() if version != final)
        for reason, count in part.failures.items():
            result.failures[reason] = result.failures.get(reason, 0) + count


async def run(options: Options) -> Report:
    clients = options.pick(options.clients, 50, 10_000)
    per_s = options.pick(options.events_per_s, 4.0, 4.0)
    seconds = options.pick(options.duration_s, 2.0, 30.0)
    report = Report(
        "fanout",
        "smoke" if options.smoke else "full",
        {
            "clients": clients,
            "events_per_s": per_s,
            "seconds": seconds,
            "generator_processes": options.pick(options.generators, 2, 4),
        },
    )
    stack = await Stack.start(services=("gateway",), split=options.split)
    baseline: BaselineServer | None = None
    redis = Redis.from_url(stack.redis_url)
    try:
        sse = BaselineServer("sse", "--redis-url", stack.redis_url, log_path=stack.workdir / "sse.log")
        baseline = await asyncio.to_thread(run_on, stack.cores, sse.start)
        report.params["cpu_pinning"] = pinning(options, stack.server_pids() | {"baseline": baseline.pid})
        gateway = Target(
            "gateway",
            stack.pid("gateway"),
            stack.port("gateway"),
            "/api/realtime/stream",
            metrics_url=stack.services["gateway"].url,
        )
        product = await measure(gateway, redis, options, clients, per_s, seconds)
        bare = Target("baseline", baseline.pid, baseline.port, "/stream")
        reference = await measure(bare, redis, options, clients, per_s, seconds)
    finally:
        await redis.aclose()
        if baseline is not None:
            baseline.stop()
        await stack.astop()
    _fill(report, product, reference)
    return report


def _fill(report: Report, product: Measured, reference: Measured) -> None:
    p, b = product.latency.summary(), reference.latency.summary()
    report.add(
        "clients connected",
        product.connected,
        "clients",
        baseline=reference.connected,
        target=f"{product.clients:,} on one gateway",
        met=product.connected == product.clients,
    )
    report.add("Redis-to-socket p50", p["p50_ms"], "ms", baseline=b["p50_ms"], better="lower")
    report.add_at_most("Redis-to-socket p99", p["p99_ms"], "ms", 250, baseline=b["p99_ms"])
    report.add_at_most(
        "RSS per connection",
        product.rss_per_connection_kb,
        "KB",
        16,
        baseline=reference.rss_per_connection_kb,
    )
    report.add_times_baseline(
        "deliveries per CPU-second",
        product.deliveries_per_cpu_s,
        "events/cpu-s",
        reference.deliveries_per_cpu_s,
        3,
    )
    report.add(
        "deliveries/s",
        product.delivered / product.seconds,
        "events/s",
        baseline=reference.delivered / reference.seconds,
    )
    report.add(
        "server CPU during the run",
        product.cpu_s / product.seconds * 100,
        "% of a core",
        baseline=reference.cpu_s / reference.seconds * 100,
        better="lower",
    )

    def conflated_pct(m: Measured) -> float:
        return m.conflated / max(m.sent * m.connected, 1) * 100

    report.add(
        "Top 10 events conflated (newer one sent instead)",
        conflated_pct(product),
        "%",
        baseline=conflated_pct(reference),
        better="lower",
    )
    report.add(
        "gateway state interval in force, max",
        max(product.intervals_s or [math.nan]) * 1000,
        "ms",
        better="lower",
    )
    report.add(
        "clients missing the last Top 10",
        product.lost,
        "clients",
        baseline=reference.lost,
        better="lower",
        target="0",
        met=product.lost == 0,
    )
    report.errors = product.failed + product.dropped + reference.failed + reference.dropped
    # The product's losses fail the run; a baseline that falls too far behind to finish within the
    # settling time is a figure (its row above), not a failure of the product.
    report.lost = product.lost + product.out_of_order
    report.details = {
        name: {key: value for key, value in vars(m).items() if key != "latency"} | {"latency": s}
        for name, m, s in (("gateway", product, p), ("baseline", reference, b))
    }
