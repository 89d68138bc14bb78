"""`scoreboard migrate`: idempotent, recorded, safe when two run at once, refuses a changed file."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from scoreboard.db.migrate import Migration, MigrationDrift, apply_migrations, bundled_migrations, migrate
from tests.servers import ServerSet, with_database


@pytest.fixture
async def empty_database(servers: ServerSet) -> str:
    name = f"sbtest_empty_{id(servers)}_{asyncio.get_running_loop().time():.0f}".replace(".", "")
    admin = await asyncpg.connect(servers.admin_database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(servers.admin_database_url, name)


async def test_two_concurrent_runs_apply_each_migration_once(empty_database: str, servers: ServerSet) -> None:
    try:
        first, second = await asyncio.gather(
            apply_migrations(empty_database, timeout_s=10), apply_migrations(empty_database, timeout_s=10)
        )
        versions = [m.version for m in bundled_migrations()]
        assert sorted(first + second) == versions  # one run applied them, the other found them done
        assert await apply_migrations(empty_database, timeout_s=10) == []  # idempotent
        connection = await asyncpg.connect(empty_database)
        try:
            recorded = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [row["version"] for row in recorded] == versions
            assert await connection.fetchval("SELECT to_regclass('score_events') IS NOT NULL")
        finally:
            await connection.close()
    finally:
        await servers.drop_database(empty_database)


async def test_a_migration_changed_after_it_was_applied_is_refused(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        (first, *rest) = bundled_migrations()
        tampered = Migration(first.version, first.sql + "\n-- edited afterwards\n")
        with pytest.raises(MigrationDrift):
            await migrate(connection, [tampered, *rest])
    finally:
        await connection.close()
