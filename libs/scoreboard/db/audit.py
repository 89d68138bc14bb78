"""audit_log: one append-only row per admin action (ARCHITECTURE.md: Operators), and its JSON log line.

Other code records an action inside its own transaction, so the row commits or rolls back with
the change it describes:

    async with connection.transaction():
        ...  # the change itself
        record = await audit.append(connection, audit.AuditEntry(...))
    audit.log_record(record)  # after the commit: a line never tells of a change rolled back

`audited(pool)` does those three steps for the common case.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from scoreboard.db.pool import Connection, Executor

# The same logger as the API's refusal lines: one stream for everything an auditor reads.
audit_log = logging.getLogger("scoreboard.audit")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str  # an admin's user id, or a system actor such as "worker:anomalies"
    action: str  # dotted, noun first: "flags.update"
    target: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    entry: AuditEntry

    def to_json(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "before": entry.before,
            "after": entry.after,
            "reason": entry.reason,
            "requestId": entry.request_id,
        }


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _loaded(value: str | None) -> dict[str, Any] | None:
    return None if value is None else orjson.loads(value)


def _record(row: asyncpg.Record) -> AuditRecord:
    entry = AuditEntry(
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        before=_loaded(row["before"]),
        after=_loaded(row["after"]),
        reason=row["reason"],
        request_id=row["request_id"],
    )
    return AuditRecord(id=row["id"], at=row["at"], entry=entry)


async def append(connection: Connection, entry: AuditEntry) -> AuditRecord:
    """Insert the row in the caller's transaction (refused outside one: the row must share the
    fate of the change it describes)."""
    if not connection.is_in_transaction():
        raise RuntimeError("audit.append runs inside the transaction of the change it records")
    row = await connection.fetchrow(
        "INSERT INTO audit_log (actor, action, target, before, after, reason, request_id) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) "
        "RETURNING id, at, actor, action, target, before, after, reason, request_id",
        entry.actor,
        entry.action,
        entry.target,
        _json(entry.before),
        _json(entry.after),
        entry.reason,
        entry.request_id,
    )
    assert row is not None
    return _record(row)


def log_record(record: AuditRecord) -> None:
    """The row as one JSON log line (logger scoreboard.audit), once its transaction committed."""
    line = record.to_json()
    extra = {"audit_id": line.pop("id"), **line}
    request_id = extra.pop("requestId")
    if request_id is not None:  # else the line keeps the id of the request being served, if any
        extra["request_id"] = request_id
    audit_log.info("admin_action", extra=extra)


@dataclass
class Audited:
    """A connection in a transaction, and the audit rows appended in it so far."""

    connection: Connection
    records: list[AuditRecord] = field(default_factory=list)

    async def append(self, entry: AuditEntry) -> AuditRecord:
        record = await append(self.connection, entry)
        self.records.append(record)
        return record


@asynccontextmanager
async def audited(pool: asyncpg.Pool) -> AsyncIterator[Audited]:
    """A transaction whose audit rows become log lines once it has committed."""
    async with pool.acquire() as connection:
        work = Audited(connection)
        async with connection.transaction():
            yield work
    for record in work.records:
        log_record(record)


async def page(executor: Executor, *, before_id: int | None, limit: int) -> list[AuditRecord]:
    """Newest first, keyset-paged: the rows older than `before_id` (all when None)."""
    rows = await executor.fetch(
        "SELECT id, at, actor, action, target, before, after, reason, request_id FROM audit_log "
        "WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
        before_id,
        limit,
    )
    return [_record(row) for row in rows]
