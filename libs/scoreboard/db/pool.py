"""The asyncpg pool: created in a lifespan, closed on shutdown, never at import.

`create_pool_lazily` returns at once even when PostgreSQL is down, so every service starts
(and answers /healthz) before its database does; connections are opened on first use.
"""

from __future__ import annotations

import asyncpg

# asyncpg could not encode an argument (a lone surrogate in a str, say): the data, not the server.
from asyncpg.exceptions._base import DataError as ArgumentEncodingError
from asyncpg.pool import PoolConnectionProxy

from scoreboard.config import DatabaseSettings

# What the repository modules' queries run on: a connection (the caller's transaction, when the
# change and its audit row must commit together) or the pool (a connection of its own).
Connection = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | Connection

# Everything that means "the database is not reachable right now" (vs. a bug in our SQL).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,
    # Seen right after a server restart: a connection left mid-operation by the failure.
    asyncpg.InternalClientError,
)


def create_pool_lazily(settings: DatabaseSettings, *, application_name: str) -> asyncpg.Pool:
    server_settings = {
        "application_name": application_name,
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.db_statement_timeout_ms * 2),
    }
    return asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=0,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout_s,
        command_timeout=settings.db_statement_timeout_ms / 1000 + 1,
        server_settings=server_settings,
        max_inactive_connection_lifetime=60,
    )


async def is_reachable(pool: asyncpg.Pool, timeout_s: float = 1.0) -> bool:
    try:
        async with pool.acquire(timeout=timeout_s) as connection:
            await connection.fetchval("SELECT 1", timeout=timeout_s)
    except Exception:  # any failure at all means "not ready"
        return False
    return True


__all__ = [
    "UNAVAILABLE_ERRORS",
    "ArgumentEncodingError",
    "Connection",
    "Executor",
    "create_pool_lazily",
    "is_reachable",
]
