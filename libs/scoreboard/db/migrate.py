"""Versioned SQL migrations: idempotent, recorded, and safe when two pods run them at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg

# Any constant shared by every migrator; the advisory lock serialises concurrent runs.
MIGRATION_LOCK_ID = 0x5C0_2E_B0A2D

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationDrift(RuntimeError):
    """An applied migration's file changed afterwards: refuse rather than guess."""


def bundled_migrations() -> list[Migration]:
    folder = resources.files("scoreboard.db") / "migrations"
    files = sorted(
        (item for item in folder.iterdir() if item.name.endswith(".sql")), key=lambda item: item.name
    )
    return [Migration(item.name.removesuffix(".sql"), item.read_text()) for item in files]


async def migrate(connection: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing, in order; return the versions applied by this call."""
    pending = migrations if migrations is not None else bundled_migrations()
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await connection.execute(_CREATE_VERSION_TABLE)
        rows = await connection.fetch("SELECT version, checksum FROM schema_migrations")
        done = {row["version"]: row["checksum"] for row in rows}
        for migration in pending:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationDrift(f"migration {migration.version} changed after it was applied")
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    migration.version,
                    migration.checksum,
                )
            applied_now.append(migration.version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied_now


async def apply_migrations(url: str, *, timeout_s: float) -> list[str]:
    """Connect, migrate, disconnect: what `scoreboard migrate` and `scoreboard dev` run."""
    connection = await asyncpg.connect(url, timeout=timeout_s)
    try:
        return await migrate(connection)
    finally:
        await connection.close()
