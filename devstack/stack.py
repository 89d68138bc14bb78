"""One supervisor for a whole local stack: PostgreSQL and Redis (embedded unless URLs are given),
the migrations, and the `scoreboard` processes, stopped in reverse order, every one.

`scoreboard dev`, the test suite's end-to-end and fault tests, and the load harness all start
their stacks here; each only says where (data directory, ports, cores) and with what settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.processes import ServiceProcess
from devstack.redis_cluster import EmbeddedRedisCluster
from devstack.servers import ChildServer, EmbeddedPostgres, EmbeddedRedis
from scoreboard.db.migrate import apply_migrations

SERVICES = ("api", "worker", "gateway")


@dataclass
class LocalStack:
    workdir: Path
    database_url: str = ""  # empty: an embedded PostgreSQL in workdir/postgres
    redis_url: str = ""  # empty: an embedded Redis in workdir/redis
    durable: bool = True  # the embedded PostgreSQL fsyncs (off for throwaway test data)
    persist: bool = True  # the embedded Redis saves a snapshot (off: a restart comes back empty)
    cores: frozenset[int] | None = None  # where every server runs (None: anywhere)
    # Boards, streams and limits on an embedded Redis Cluster, the job queue on the embedded
    # Redis (ARCHITECTURE.md: Redis roles); only when redis_url is empty.
    redis_cluster: bool = False
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    cluster: EmbeddedRedisCluster | None = None
    queue_redis_url: str = ""  # set when the queue is not on redis_url
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def start_servers(self) -> None:
        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.workdir / "postgres", durable=self.durable)
            self._start(self.postgres)
            self.database_url = self.postgres.url
        if not self.redis_url:
            self.redis = EmbeddedRedis(self.workdir / "redis", persist=self.persist)
            self._start(self.redis)
            self.redis_url = self.redis.url
            if self.redis_cluster:
                self.cluster = EmbeddedRedisCluster(self.workdir / "redis-cluster")
                self.cluster.start()
                self.queue_redis_url, self.redis_url = self.redis_url, self.cluster.url

    def _start(self, server: ChildServer) -> None:
        server.cores = self.cores
        server.start()

    async def migrate(self) -> list[str]:
        return await apply_migrations(self.database_url, timeout_s=30)

    def add(self, name: str, env: dict[str, str], *, key: str = "", **options: Any) -> ServiceProcess:
        """A `scoreboard <name>` process to start with the others, known as `key` (default: its
        name; see ServiceProcess)."""
        key = key or name
        options.setdefault("log_path", self.workdir / f"{key}.log")
        service = ServiceProcess(name, env, cores=self.cores, **options)
        self.services[key] = service
        return service

    def add_replicas(self, name: str, env: dict[str, str], count: int) -> list[ServiceProcess]:
        """`count` processes of one service sharing one port (SO_REUSEPORT), as a machine running
        several of its pods behind one address: `name`, then `name-2`, `name-3`..."""
        first = self.add(name, env, reuse_port=count > 1)
        siblings = [
            self.add(name, env, key=f"{name}-{i}", port=first.port, reuse_port=True)
            for i in range(2, count + 1)
        ]
        return [first, *siblings]

    def start_services(self, *, wait_for: str = "/readyz", timeout_s: float = 60.0) -> None:
        """Start them all at once, then wait until each answers `wait_for` (no start order is
        needed: every service waits for its servers by itself)."""
        for service in self.services.values():
            service.spawn()
        for service in self.services.values():
            service.wait_until(wait_for, timeout_s)

    def check(self) -> None:
        """RuntimeError when a service has exited on its own."""
        for name, service in self.services.items():
            if service.process is not None and not service.alive():
                raise RuntimeError(f"the {name} process exited with code {service.process.returncode}")

    def stop(self) -> None:
        services = list(reversed(self.services.values()))
        for service in services:  # all at once: each drains in its own time
            service.send()
        for service in services:
            with contextlib.suppress(Exception):
                service.stop()
        if self.cluster is not None:
            self.cluster.stop()
        for server in (self.redis, self.postgres):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()

    async def astart(
        self,
        env: dict[str, str],
        services: tuple[str, ...] = SERVICES,
        replicas: dict[str, int] | None = None,
    ) -> None:
        """Servers, migrations, then `services` with `env` plus the servers' URLs (async callers),
        `replicas[name]` processes of a service when given (one by default)."""
        try:
            await asyncio.to_thread(self.start_servers)
            await self.migrate()
            urls = {"SCOREBOARD_DATABASE_URL": self.database_url, "SCOREBOARD_REDIS_URL": self.redis_url}
            if self.queue_redis_url:
                urls["SCOREBOARD_QUEUE_REDIS_URL"] = self.queue_redis_url
            for name in services:
                self.add_replicas(name, env | urls, (replicas or {}).get(name, 1))
            await asyncio.to_thread(self.start_services)
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise
