"""Clients on one core, servers on the others: a benchmark measures the server, not its clients.

On a small machine the load generators and listeners would otherwise take the CPU the servers
need. The harness process pins itself (and so every generator it spawns later) to the client
core, and starts every server (PostgreSQL, Redis, the `scoreboard` processes, the baselines)
through `run_on(split.servers, ...)`, so they inherit the server cores at fork: every thread and
child they ever start stays there. `affinity(pid)` reads back what a process really got.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Split:
    clients: frozenset[int]
    servers: frozenset[int]

    def describe(self) -> dict[str, list[int]]:
        return {"clients": sorted(self.clients), "servers": sorted(self.servers)}


def pin_clients(pin: bool) -> Split | None:
    """With 2+ cores (and `pin`): this process moves to the first core; the rest is for servers."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None
    split = Split(clients=frozenset(cpus[:1]), servers=frozenset(cpus[1:]))
    os.sched_setaffinity(0, split.clients)
    return split


def run_on(cores: frozenset[int] | None, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `function` on `cores`, this thread only, then move back: what it forks stays there."""
    if cores is None:
        return function(*args, **kwargs)
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)  # pid 0 is the calling thread on Linux
    try:
        return function(*args, **kwargs)
    finally:
        os.sched_setaffinity(0, before)


def affinity(pid: int) -> str:
    """The CPUs a process may run on, as the kernel lists them (e.g. "1" or "0-1")."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"
