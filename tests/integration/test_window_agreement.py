"""PostgreSQL decides an increment's window at commit (scoreboard_window_id); Python decides which
window is current for reads, listings and boundaries. They must agree, DST changes included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreboard.domain.windows import WindowRule

RULES = [
    WindowRule("all"),
    WindowRule("day", "America/New_York"),
    WindowRule("day", "Australia/Lord_Howe"),
    WindowRule("day", "America/Santiago"),
    WindowRule("week", "Asia/Kathmandu"),
    WindowRule("week", "UTC"),
    WindowRule("month", "Pacific/Chatham"),
    WindowRule("seconds", seconds=90, anchor=datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)),
    WindowRule("seconds", seconds=7 * 86_400, anchor=datetime(2021, 3, 28, 1, 0, 0, tzinfo=UTC)),
]
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@pytest.fixture
async def connection(database_url: str) -> Any:
    connected = await asyncpg.connect(database_url)
    yield connected
    await connected.close()


async def database_window(connection: asyncpg.Connection, rule: WindowRule, instant: datetime) -> str:
    window_id: str = await connection.fetchval(
        "SELECT scoreboard_window_id($1, $2, $3, $4, $5)",
        rule.kind,
        rule.tz,
        rule.seconds,
        rule.anchor,
        instant,
    )
    return window_id


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2024, 3, 10, 6, 59, 59, 999999, tzinfo=UTC),  # New York, 01:59:59 EST
        datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # 03:00 EDT
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first of two
        datetime(2024, 11, 3, 6, 30, tzinfo=UTC),  # 01:30 EST, the second
        datetime(2024, 11, 4, 4, 59, 59, 999999, tzinfo=UTC),  # the last instant of that 25 h day
        datetime(2024, 9, 8, 4, 0, tzinfo=UTC),  # Santiago: the day that has no midnight
        datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC),  # ISO week 53
        datetime(2024, 2, 29, 12, tzinfo=UTC),
    ],
)
async def test_edges_agree(connection: asyncpg.Connection, instant: datetime) -> None:
    for rule in RULES:
        assert await database_window(connection, rule, instant) == rule.at(instant).id, rule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=st.sampled_from(RULES), instant=INSTANTS)
async def test_any_instant_agrees(
    connection: asyncpg.Connection, rule: WindowRule, instant: datetime
) -> None:
    assert await database_window(connection, rule, instant) == rule.at(instant).id
