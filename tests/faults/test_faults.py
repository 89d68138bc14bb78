"""Faults under a steady signed load: nothing acknowledged is lost or counted twice, Redis
converges to PostgreSQL by itself, and a reconnecting SSE client ends on the final Top 10.

Each test prints one line (outcomes, convergence time) and appends it to
test-artifacts/fault-report.jsonl.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from scoreboard.redis_store.keys import BoardKeys
from tests.faults.harness import LOAD_S, FaultStack, Load, LoadReport, Watcher
from tests.servers import ON_CLUSTER, redis_client

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "fault-report.jsonl"


@contextlib.asynccontextmanager
async def _started(tmp_path: Path, redis_cluster: bool = ON_CLUSTER) -> AsyncIterator[FaultStack]:
    started = await FaultStack.start(tmp_path, redis_cluster=redis_cluster)
    try:
        yield started
    finally:
        await started.astop()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[FaultStack]:
    """Redis as the run asks: one server, or a Cluster (SCOREBOARD_TEST_REDIS_CLUSTER)."""
    async with _started(tmp_path) as started:
        yield started


@pytest.fixture
async def single_redis_stack(tmp_path: Path) -> AsyncIterator[FaultStack]:
    """Boards and queue on one Redis, whatever the run asks: the fault is that server's restart."""
    async with _started(tmp_path, redis_cluster=False) as started:
        yield started


@pytest.fixture
async def cluster_stack(tmp_path: Path) -> AsyncIterator[FaultStack]:
    """The boards on a local Redis Cluster (3 primaries, 3 replicas), whatever the run asks."""
    async with _started(tmp_path, redis_cluster=True) as started:
        yield started


Inject = Callable[[FaultStack], Awaitable[None]]


async def run_with_fault(stack: FaultStack, name: str, inject: Inject) -> tuple[LoadReport, Watcher]:
    watcher = Watcher(stack.url("gateway"))
    watcher.start()
    load = Load(stack.url("api"))
    load.start()
    await asyncio.sleep(LOAD_S)
    fault_started = time.monotonic()
    await inject(stack)
    recovered_s = time.monotonic() - fault_started
    await asyncio.sleep(LOAD_S)
    report = await load.stop()
    convergence_s = await stack.converge()
    await stack.check_exactly_once(report)
    await _assert_watcher_ends_on_final_top10(stack, watcher)
    await watcher.stop()
    line = {
        "fault": name,
        "outcomes": report.summary(),
        "fault_and_recovery_s": round(recovered_s, 2),
        "convergence_s": round(convergence_s, 2),
        "sse_reconnects": watcher.reconnects,
    }
    print(json.dumps(line))
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open("a") as report_file:
        report_file.write(json.dumps(line) + "\n")
    return report, watcher


async def _assert_watcher_ends_on_final_top10(stack: FaultStack, watcher: Watcher) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        final = (await client.get(stack.url("api") + "/api/leaderboard/top")).json()
    deadline = time.monotonic() + 15
    while watcher.top10 != final:
        assert time.monotonic() < deadline, f"the SSE client ended on {watcher.top10}, not {final}"
        await asyncio.sleep(0.1)


def _killed_and_restarted(service: str, down_s: float) -> Inject:
    """SIGKILL one service, leave it down for `down_s`, then start it again."""

    async def inject(stack: FaultStack) -> None:
        stack.services[service].kill()
        await asyncio.sleep(down_s)
        await stack.restart(service)

    return inject


async def test_redis_restarted_empty(single_redis_stack: FaultStack) -> None:
    """On a Cluster a node restarted empty rejoins as a replica and copies its shard: the
    Cluster's own fault is a primary's death (test_cluster_primary_killed)."""
    stack = single_redis_stack

    async def inject(stack: FaultStack) -> None:
        await asyncio.to_thread(stack.redis.stop)
        await asyncio.sleep(1.5)
        stack.redis.wipe()
        await asyncio.to_thread(stack.redis.start)

    report, _ = await run_with_fault(stack, "redis-restarted-empty", inject)
    assert set(report.outcomes) == {"200"}, report.outcomes  # writes never failed
    assert report.outcomes["200"] > 0


async def test_worker_killed_mid_burst(stack: FaultStack) -> None:
    report, _ = await run_with_fault(stack, "worker-sigkill", _killed_and_restarted("worker", down_s=1.0))
    assert set(report.outcomes) == {"200"}, report.outcomes


async def test_postgres_stopped_for_seconds(stack: FaultStack) -> None:
    async def inject(stack: FaultStack) -> None:
        await asyncio.to_thread(stack.postgres.stop)
        await asyncio.sleep(3.0)
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(stack.url("api") + "/readyz")).status_code == 503
        await asyncio.to_thread(stack.postgres.start)

    report, _ = await run_with_fault(stack, "postgres-stopped", inject)
    assert set(report.outcomes) <= {"200", "503"}, report.outcomes  # failed cleanly, or succeeded
    assert report.outcomes["503"] > 0
    async with httpx.AsyncClient(timeout=5) as client:  # resumed by itself, no restart
        assert (await client.get(stack.url("api") + "/readyz")).status_code == 200


async def test_redis_full_after_commit(stack: FaultStack) -> None:
    """Redis out of memory (maxmemory reached, noeviction): every write to it is refused with OOM
    while PostgreSQL commits; each committed increment answers 200, and the board converges once
    memory is freed."""

    async def inject(stack: FaultStack) -> None:
        await _set_on_every_store_node(stack, {"maxmemory-policy": "noeviction", "maxmemory": 1})
        await asyncio.sleep(LOAD_S)
        redis = redis_client(stack.redis_url)
        try:
            with pytest.raises(OutOfMemoryError):  # still full at the end
                await redis.set("probe", "1")
        finally:
            await redis.aclose()
        await _set_on_every_store_node(stack, {"maxmemory": 0})

    report, _ = await run_with_fault(stack, "redis-full", inject)
    assert set(report.outcomes) == {"200"}, report.outcomes
    async with httpx.AsyncClient(timeout=5) as client:  # increments did commit while it was full
        metrics = (await client.get(stack.url("api") + "/metrics")).text
    assert _counter(metrics, "scoreboard_enqueue_failures_total") > 0


async def _set_on_every_store_node(stack: FaultStack, settings: dict[str, str | int]) -> None:
    """CONFIG SET on the boards' Redis: the one server, or every node of the Cluster."""
    nodes = [node.port for node in stack.cluster.nodes] if stack.cluster else [stack.redis.port]
    for port in nodes:
        async with Redis(host="127.0.0.1", port=port) as node:
            for name, value in settings.items():
                await node.config_set(name, value)


def _counter(exposition: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in exposition.splitlines() if line.startswith(name + " "))


async def test_gateway_killed(stack: FaultStack) -> None:
    report, watcher = await run_with_fault(
        stack, "gateway-sigkill", _killed_and_restarted("gateway", down_s=0.5)
    )
    assert set(report.outcomes) == {"200"}, report.outcomes
    assert watcher.reconnects >= 1


async def test_cluster_primary_killed(cluster_stack: FaultStack) -> None:
    """The primary holding the main board dies (SIGKILL) under load; its replica takes over. Every
    committed increment answers 200 meanwhile (Redis unavailable: rank from PostgreSQL), none is
    lost or counted twice, and the board converges on the promoted replica by itself."""
    stack = cluster_stack
    assert stack.cluster is not None

    async def inject(stack: FaultStack) -> None:
        assert stack.cluster is not None
        board = BoardKeys("global").ranking
        primary = stack.cluster.primary_of(board)
        primary.kill()
        await asyncio.to_thread(stack.cluster.wait_for_failover, board, primary)  # its replica serves
        await asyncio.to_thread(primary.start)  # back as a replica of its successor

    report, _ = await run_with_fault(stack, "cluster-primary-sigkill", inject)
    assert set(report.outcomes) == {"200"}, report.outcomes
    assert report.outcomes["200"] > 0
