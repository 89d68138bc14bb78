"""The reconciler reads each change once, yet never misses one that commits late (decision 0018).

A change is stamped inside its transaction, so it can become visible after newer ones were read.
The reconciler used to re-read the last `reconcile_margin_s` (10 s) of changes every second for
that; now each tick starts at its safe point, the start of the oldest transaction that was open
when the previous tick began.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from scoreboard.db import scores
from services.worker.context import WorkerContext
from tests.integration.test_reconciler import BOARD, assert_redis_equals_db, run_reconcile


def reads(worker: WorkerContext) -> float:
    value = worker.metrics.registry.get_sample_value("scoreboard_reconciler_reads_total")
    return value or 0.0


async def change_scores(worker: WorkerContext, count: int) -> None:
    """`count` new players' scores straight into PostgreSQL: their jobs were lost."""
    await worker.pool.execute(
        """
        WITH made AS (
            INSERT INTO users (id, display_name) SELECT gen_random_uuid(), 'late-' || g
            FROM generate_series(1, $1) AS g RETURNING id
        )
        INSERT INTO scores (board_id, user_id, score, reached_at)
        SELECT $2, id, 10, clock_timestamp() FROM made
        """,
        count,
        BOARD,
    )


async def test_a_tick_after_a_catch_up_reads_none_of_its_changes_again(worker: WorkerContext) -> None:
    await run_reconcile(worker)  # the board is built and caught up
    await change_scores(worker, 20)
    before = reads(worker)

    assert await run_reconcile(worker) == "repaired:20"
    assert reads(worker) - before == 20
    # Still well inside the 10 s margin: the margin alone would read all 20 again, every second.
    assert await run_reconcile(worker) == "repaired:0"
    assert reads(worker) - before == 20
    await assert_redis_equals_db(worker)


async def test_a_change_that_commits_after_newer_ones_were_read_is_applied(
    worker: WorkerContext, database_url: str
) -> None:
    await run_reconcile(worker)
    late_user = uuid.uuid4()
    await worker.pool.execute("INSERT INTO users (id, display_name) VALUES ($1, 'Late')", late_user)
    await run_reconcile(worker)  # its profile is carried over: the ticks below repair scores only
    late = await asyncpg.connect(database_url)
    try:
        transaction = late.transaction()
        await transaction.start()
        await late.execute(  # stamped now, visible only at the commit below
            "INSERT INTO scores (board_id, user_id, score, reached_at) "
            "VALUES ($1, $2, 700, clock_timestamp())",
            BOARD,
            late_user,
        )
        await change_scores(worker, 3)  # newer changes, committed first
        assert await run_reconcile(worker) == "repaired:3"
        assert await run_reconcile(worker) == "repaired:0"
        await transaction.commit()
    finally:
        await late.close()

    assert await run_reconcile(worker) == "repaired:1"
    await assert_redis_equals_db(worker)


async def test_the_oldest_open_change_is_the_start_of_the_oldest_open_transaction(
    worker: WorkerContext, database_url: str
) -> None:
    idle = await scores.oldest_open_change(worker.pool)
    assert idle is not None
    now = await worker.pool.fetchval("SELECT clock_timestamp()")
    assert idle <= now

    open_one = await asyncpg.connect(database_url)
    try:
        await open_one.execute("BEGIN")
        started = await open_one.fetchval("SELECT now()")  # the transaction's start
        await worker.pool.execute("SELECT pg_sleep(0.05)")
        assert await scores.oldest_open_change(worker.pool) == started
        await open_one.execute("COMMIT")
    finally:
        await open_one.close()
    after = await scores.oldest_open_change(worker.pool)
    assert after is not None
    assert after > started


@dataclass
class Roles:
    admin: asyncpg.Connection
    other_url: str
    own_url: str
    own_name: str


@pytest.fixture
async def roles(database_url: str) -> AsyncIterator[Roles]:
    """Two fresh login roles on the test database (roles are server-wide: unique names)."""
    other, own = (f"sb_role_{secrets.token_hex(4)}" for _ in range(2))
    admin = await asyncpg.connect(database_url)
    parts = urlsplit(database_url)

    def url(name: str) -> str:
        return urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port}"))

    try:
        for name in (other, own):
            await admin.execute(f"CREATE ROLE {name} LOGIN")
        yield Roles(admin, url(other), url(own), own)
    finally:
        for name in (other, own):
            await admin.execute(f"DROP ROLE IF EXISTS {name}")
        await admin.close()


async def test_nobody_can_say_while_a_session_of_another_role_is_hidden(roles: Roles) -> None:
    other = await asyncpg.connect(roles.other_url)
    own = await asyncpg.connect(roles.own_url)
    try:
        await other.execute("BEGIN")  # open, and invisible to a role without pg_read_all_stats
        assert await scores.oldest_open_change(own) is None
        await roles.admin.execute(f"GRANT pg_read_all_stats TO {roles.own_name}")
        started = await other.fetchval("SELECT now()")
        assert await scores.oldest_open_change(own) == started
        await other.execute("COMMIT")
    finally:
        await other.close()
        await own.close()
