"""`scoreboard migrate`: idempotent, recorded, safe when two run at once, refuses a changed file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
import pytest

from scoreboard.db.migrate import Migration, MigrationDrift, apply_migrations, bundled_migrations, migrate
from scoreboard.db.score_events import totals_mismatch
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


@asynccontextmanager
async def migrated_before(
    version: str, database_url: str, servers: ServerSet
) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the empty database with every migration before `version` applied; the
    database is dropped afterwards."""
    connection = await asyncpg.connect(database_url)
    try:
        await migrate(connection, [m for m in bundled_migrations() if m.version < version])
        yield connection
    finally:
        await connection.close()
        await servers.drop_database(database_url)


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


async def test_0003_keeps_every_row_and_starts_the_profile_feed_at_creation(
    empty_database: str, servers: ServerSet
) -> None:
    async with migrated_before("0003", empty_database, servers) as connection:
        await connection.execute(
            "INSERT INTO users (id, display_name, is_public, created_at) VALUES "
            "('00000000-0000-0000-0000-000000000001', 'Ann', true, '2024-01-01T00:00:00Z'), "
            "('00000000-0000-0000-0000-000000000002', 'Ben', false, '2024-02-01T00:00:00Z')"
        )
        await connection.execute(
            "SELECT scoreboard_apply_increment('global', '00000000-0000-0000-0000-000000000001', 'Ann', "
            "'00000000-0000-0000-0000-0000000000a1', 'default', 3, 'h', 'default', NULL, NULL, NULL)"
        )

        assert "0003_user_profile_changes" in await migrate(connection)

        users = await connection.fetch(
            "SELECT id, display_name, is_public, created_at, updated_at FROM users"
        )
        assert {(u["display_name"], u["is_public"]) for u in users} == {("Ann", True), ("Ben", False)}
        assert all(u["updated_at"] == u["created_at"] for u in users)
        assert await connection.fetchval("SELECT score FROM scores") == 3
        assert await connection.fetchval("SELECT count(*) FROM score_events") == 1

        # The trigger moves updated_at only when the profile really changes.
        await connection.execute("UPDATE users SET display_name = 'Ann' WHERE display_name = 'Ann'")
        assert await connection.fetchval(
            "SELECT updated_at = created_at FROM users WHERE display_name = 'Ann'"
        )
        await connection.execute("UPDATE users SET is_public = false WHERE display_name = 'Ann'")
        assert await connection.fetchval(
            "SELECT updated_at > created_at + interval '1 day' FROM users WHERE display_name = 'Ann'"
        )


ANN = "00000000-0000-0000-0000-000000000001"


async def test_0004_makes_todays_scores_the_all_time_global_board_and_keeps_their_replays(
    empty_database: str, servers: ServerSet
) -> None:
    async with migrated_before("0004", empty_database, servers) as connection:
        for action in ("a1", "a2"):
            await connection.execute(
                "SELECT scoreboard_apply_increment('global', $1, 'Ann', $2, 'default', 3, 'h', 'default', "
                "NULL, NULL, NULL)",
                ANN,
                f"00000000-0000-0000-0000-0000000000{action}",
            )

        assert "0004_boards_and_windows" in await migrate(connection)

        rows = await connection.fetch("SELECT board_id, window_id, score FROM scores")
        assert [tuple(row) for row in rows] == [("global", "all", 6)]
        assert await totals_mismatch(connection) == []
        replay = await connection.fetchrow(
            "SELECT * FROM scoreboard_count_increment($1::jsonb, $2, 'Ann', $3, 'default', 3, 'h', "
            "'default', "
            "NULL, NULL, NULL)",
            '[{"id": "global", "kind": "all"}]',
            ANN,
            "00000000-0000-0000-0000-0000000000a1",
        )
        assert (replay["inserted"], replay["score_after"]) == (False, 3)
        assert orjson.loads(replay["boards"]) == {"global": {"window": "all", "score": 3}}
        # A pod of the previous release, mid-deploy, still counts through its old function.
        await connection.execute(
            "SELECT scoreboard_apply_increment('global', '00000000-0000-0000-0000-000000000001', 'Ann', "
            "'00000000-0000-0000-0000-0000000000a3', 'default', 3, 'h', 'default', NULL, NULL, NULL)"
        )
        assert await connection.fetchval("SELECT score FROM scores") == 9
        assert await totals_mismatch(connection) == []


async def test_0006_keeps_every_score_versions_new_ones_and_lets_only_adjustments_lower_a_score(
    empty_database: str, servers: ServerSet
) -> None:
    boards = '[{"id": "global", "kind": "all"}]'
    count = (
        "SELECT * FROM scoreboard_count_increment($1::jsonb, $2, 'Ann', $3, 'default', 3, 'h', 'default', "
        "NULL, NULL, NULL)"
    )
    async with migrated_before("0006", empty_database, servers) as connection:
        await connection.execute(count, boards, ANN, "00000000-0000-0000-0000-0000000000a1")

        assert "0006_moderation" in await migrate(connection)

        row = await connection.fetchrow("SELECT score, event_id FROM scores")
        assert (row["score"], row["event_id"]) == (3, None)  # version 0: compared by score, as before
        second = await connection.fetchrow(count, boards, ANN, "00000000-0000-0000-0000-0000000000a2")
        assert await connection.fetchval("SELECT event_id FROM scores") == second["event_id"]

        adjusted = await connection.fetchrow(
            "SELECT * FROM scoreboard_apply_adjustment($1, $2, 'global', 'all', -10, NULL, NULL)",
            "00000000-0000-0000-0000-00000000ad01",
            ANN,
        )
        assert (adjusted["applied_delta"], adjusted["score_after"]) == (-6, 0)  # never below 0
        assert adjusted["event_id"] > second["event_id"]
        assert await connection.fetchval("SELECT event_id FROM scores") == adjusted["event_id"]
        nothing = await connection.fetchrow(
            "SELECT * FROM scoreboard_apply_adjustment($1, $2, 'global', 'all', -1, NULL, NULL)",
            "00000000-0000-0000-0000-00000000ad02",
            ANN,
        )
        assert (nothing["applied_delta"], nothing["score_after"]) == (0, 0)
        assert await totals_mismatch(connection) == []

        with pytest.raises(asyncpg.CheckViolationError):  # only an admin's adjustment may lower
            await connection.execute(
                "INSERT INTO score_events (board_id, user_id, action_id, action_type, delta, request_hash, "
                "source) VALUES ('global', $1, $2, 'default', -1, 'h', 'default')",
                ANN,
                "00000000-0000-0000-0000-0000000000a9",
            )
