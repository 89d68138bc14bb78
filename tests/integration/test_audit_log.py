"""audit_log is append-only in the database itself, for every role; rows and log lines go
together with the change they record (committed, never rolled back)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from itertools import count

import asyncpg
import pytest

from scoreboard.db import audit

ROLES = count()
REFUSALS = [
    "UPDATE audit_log SET reason = 'rewritten'",
    "UPDATE audit_log SET reason = 'rewritten' WHERE false",  # even one that would touch nothing
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = 1",
    "TRUNCATE audit_log",
]


def _entry(action: str = "flags.update", reason: str = "because") -> audit.AuditEntry:
    return audit.AuditEntry(
        actor="00000000-0000-0000-0000-00000000a11a",
        action=action,
        target="flags",
        before={"increments": True},
        after={"increments": False},
        reason=reason,
        request_id="req-1234567890",
    )


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the services make theirs (the test servers' role: a superuser)."""
    connection = await asyncpg.connect(database_url)
    async with connection.transaction():
        await audit.append(connection, _entry())
    yield connection
    await connection.close()


async def _assert_refused(connection: asyncpg.Connection) -> None:
    for statement in REFUSALS:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute(statement)
    assert await connection.fetchval("SELECT count(*) FROM audit_log WHERE reason = 'because'") >= 1


async def test_the_database_refuses_to_change_or_remove_a_row(connection: asyncpg.Connection) -> None:
    await _assert_refused(connection)


async def test_even_with_triggers_switched_off_for_replication(connection: asyncpg.Connection) -> None:
    # session_replication_role = replica skips ordinary triggers; ours are ENABLE ALWAYS.
    await connection.execute("SET session_replication_role = replica")
    await _assert_refused(connection)


async def test_an_application_role_granted_everything_on_the_table_is_refused(
    connection: asyncpg.Connection,
) -> None:
    role = f"sbtest_app_{os.getpid()}_{next(ROLES)}"
    await connection.execute(f'CREATE ROLE "{role}" NOLOGIN')
    try:
        await connection.execute(f'GRANT ALL PRIVILEGES ON audit_log TO "{role}"')
        await connection.execute(f'SET ROLE "{role}"')
        async with connection.transaction():
            await audit.append(connection, _entry(reason="as the app role"))  # appending works
        await _assert_refused(connection)
        assert await connection.fetchval("SELECT count(*) FROM audit_log") == 2
    finally:
        await connection.execute("RESET ROLE")
        await connection.execute(f'DROP OWNED BY "{role}"')
        await connection.execute(f'DROP ROLE "{role}"')


async def test_append_is_refused_outside_a_transaction(connection: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        await audit.append(connection, _entry())


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
async def test_the_table_refuses_a_row_without_a_real_reason(
    connection: asyncpg.Connection, reason: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        async with connection.transaction():
            await audit.append(connection, _entry(reason=reason))


async def test_a_line_is_logged_once_committed_and_never_for_a_rollback(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=2)
    try:
        caplog.set_level(logging.INFO, logger="scoreboard.audit")

        async def fail_after_appending() -> None:
            async with audit.audited(pool) as work:
                await work.append(_entry(action="test.rolled_back"))
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await fail_after_appending()
        async with audit.audited(pool) as work:
            record = await work.append(_entry(action="test.committed"))

        lines = [r for r in caplog.records if r.name == "scoreboard.audit"]
        assert [line.__dict__["action"] for line in lines] == ["test.committed"]
        line = lines[0].__dict__
        assert line["audit_id"] == record.id
        assert (line["before"], line["after"]) == ({"increments": True}, {"increments": False})
        assert (line["reason"], line["request_id"], line["target"]) == ("because", "req-1234567890", "flags")
        rows = await audit.page(pool, before_id=None, limit=10)
        assert [row.entry.action for row in rows] == ["test.committed"]
        assert rows[0] == record
    finally:
        await pool.close()


async def test_pages_run_newest_first_without_gaps_or_repeats(connection: asyncpg.Connection) -> None:
    async with connection.transaction():
        for number in range(7):
            await audit.append(connection, _entry(action=f"test.{number}"))
    seen: list[str] = []
    before_id = None
    while True:
        page = await audit.page(connection, before_id=before_id, limit=3)
        if not page:
            break
        seen += [row.entry.action for row in page]
        before_id = page[-1].id
    assert seen == [f"test.{n}" for n in reversed(range(7))] + ["flags.update"]
