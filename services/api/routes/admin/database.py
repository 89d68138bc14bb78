"""The admin routes' answer when PostgreSQL is away: 503, nothing changed."""

from __future__ import annotations

from scoreboard.domain.errors import Reason, Unavailable


def database_unavailable() -> Unavailable:
    return Unavailable(
        "the database is unavailable; retry shortly", reason=Reason.DATABASE_UNAVAILABLE, retry_after_s=2
    )
