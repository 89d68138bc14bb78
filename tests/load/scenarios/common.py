"""What every scenario shares: its options, and driving a group of generator processes."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.load.cpus import Split, affinity
from tests.load.procs import CONNECTED, DONE, ERRORS, Generators, Target, wait_until
from tests.load.report import RESULTS_DIR
from tests.load.stats import Progress

LOOPBACK = "127.0.0.1"


@dataclass
class Options:
    smoke: bool = False
    duration_s: float | None = None  # per measured phase
    concurrency: int | None = None
    users: int | None = None
    generators: int | None = None
    rate: float | None = None  # e2e: increments/s
    clients: int | None = None  # fanout: SSE clients; e2e: listeners
    events_per_s: float | None = None
    rebuild_users: list[int] = field(default_factory=list)
    out: Path = RESULTS_DIR
    split: Split | None = None  # clients and servers on separate cores (tests/load/cpus.py)
    api_processes: int = 1  # on one port (SO_REUSEPORT), as a machine running several pods
    gateway_processes: int = 1

    @property
    def replicas(self) -> dict[str, int]:
        return {"api": self.api_processes, "gateway": self.gateway_processes}

    def pick(self, explicit: Any, smoke: Any, full: Any) -> Any:
        if explicit is not None and explicit != []:
            return explicit
        return smoke if self.smoke else full


def pinning(options: Options, server_pids: dict[str, int]) -> dict[str, Any]:
    """How clients and servers shared the CPUs, as the kernel reports each server's affinity."""
    if options.split is None:
        return {"pinned": False, "cpus": os.cpu_count()}
    return {
        "pinned": True,
        **options.split.describe(),
        "server_affinity": {name: affinity(pid) for name, pid in server_pids.items()},
        "harness_affinity": sorted(os.sched_getaffinity(0)),
    }


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


async def drive(target: Target, configs: list[Any], label: str, timeout_s: float) -> list[Any]:
    """Start the generators, start them together, show progress until each returns its result."""
    with Generators(target, configs) as generators:
        ready = await wait_until(lambda: generators.total(CONNECTED) >= len(configs), 60)
        if not ready:
            raise RuntimeError(f"{label}: load generators did not get ready")
        generators.go.set()
        progress = Progress(label)
        pending = asyncio.ensure_future(asyncio.to_thread(generators.results, timeout_s))
        while not pending.done():
            await asyncio.wait({pending}, timeout=1.0)
            progress.show(generators.total(DONE), errors=generators.total(ERRORS))
        progress.done()
        return pending.result()


async def sample_gauge(url: str, name: str, samples: list[float], every_s: float = 1.0) -> None:
    """Append a gauge's value from a service's /metrics every `every_s` until cancelled."""
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            await asyncio.sleep(every_s)
            try:
                text = (await client.get(url + "/metrics")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith(name + " "):
                    samples.append(float(line.rsplit(" ", 1)[1]))
