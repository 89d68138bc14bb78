"""Group commit: increments that arrive together share one transaction and one commit.

No timer and no added latency when idle: a request finding a free flusher is written at once,
alone. While every flusher is busy, new requests queue up and the next free flusher takes them
all (up to `max_batch`) in one call of scoreboard_apply_increments. That is PostgreSQL's own
group-commit idea one level up: under load the commit (a WAL flush) is paid once per batch.
Each request still gets exactly its own answer; a failed batch fails each of its requests with
the same error, so a retry (idempotent) is always safe.
"""

from __future__ import annotations

import asyncio
from collections import deque

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from scoreboard.db.score_events import NewIncrement, apply_increments
from scoreboard.domain.models import IncrementRecord

Outcome = tuple[IncrementRecord, bool]


class GroupCommitter:
    def __init__(self, pool: asyncpg.Pool, *, flushers: int, max_batch: int) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._free_flushers = flushers
        self._pending: deque[tuple[NewIncrement, asyncio.Future[Outcome]]] = deque()

    async def apply(self, item: NewIncrement) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._free_flushers > 0:
            self._free_flushers -= 1
            asyncio.get_running_loop().create_task(self._flush_while_pending())
        return await future

    async def _flush_while_pending(self) -> None:
        """Keep one connection while there is work: the pool's reset on release is paid once per
        busy period, not once per batch. A failure releases it (asyncpg drops a broken one)."""
        try:
            while self._pending:
                try:
                    async with self._pool.acquire() as connection:
                        while self._pending:
                            if not await self._flush(connection, self._next_batch()):
                                break
                except Exception as error:  # no connection at all: the next batch fails with it
                    if self._pending:
                        self._fail(self._next_batch(), error)
        finally:
            self._free_flushers += 1

    def _next_batch(self) -> list[tuple[NewIncrement, asyncio.Future[Outcome]]]:
        count = min(len(self._pending), self._max_batch)
        return [self._pending.popleft() for _ in range(count)]

    async def _flush(
        self, connection: PoolConnectionProxy, batch: list[tuple[NewIncrement, asyncio.Future[Outcome]]]
    ) -> bool:
        """Write one batch; False (each waiter told why) when it failed."""
        try:
            outcomes = await apply_increments(connection, [item for item, _ in batch])
        except Exception as error:
            self._fail(batch, error)
            if isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError):
                connection.terminate()  # its state is unknown: never hand it out again
            return False
        except BaseException as error:  # cancelled: the waiters must not hang
            self._fail(batch, error)
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # its caller may have gone away meanwhile
                future.set_result(outcome)
        return True

    @staticmethod
    def _fail(batch: list[tuple[NewIncrement, asyncio.Future[Outcome]]], error: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
