"""Group commit: increments that arrive together share one transaction and one commit.

No timer and no added latency when idle: a request finding a free flusher is written at once,
alone. While every flusher is busy, new requests queue up and the next free flusher takes them
all (up to `max_batch`) in one call of scoreboard_apply_increments. That is PostgreSQL's own
group-commit idea one level up: under load the commit (a WAL flush) is paid once per batch.
Each request still gets exactly its own answer. When the database refuses a batch because of
one item's data, nothing of it was committed: each item is then committed alone, so only the
item at fault fails. When the database is away, every request of the batch fails with the
same error, and a retry (idempotent) is always safe.
"""

from __future__ import annotations

import asyncio
from collections import deque

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from scoreboard.db.pool import UNAVAILABLE_ERRORS as DB_DOWN
from scoreboard.db.pool import ArgumentEncodingError
from scoreboard.db.score_events import NewIncrement, apply_increment, apply_increments
from scoreboard.domain.models import IncrementRecord

Outcome = tuple[IncrementRecord, bool]
Batch = list[tuple[NewIncrement, "asyncio.Future[Outcome]"]]


def refused_for_its_data(error: BaseException) -> bool:
    """The database (or asyncpg, encoding an argument) refused what was sent, while the server
    and the connection are fine: another item sent alone would have been accepted."""
    if isinstance(error, ArgumentEncodingError):
        return True
    return isinstance(error, asyncpg.PostgresError) and not isinstance(error, DB_DOWN)


class GroupCommitter:
    def __init__(self, pool: asyncpg.Pool, spec: str, *, flushers: int, max_batch: int) -> None:
        self._pool = pool
        self._spec = spec  # the boards (score_events.board_spec)
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

    def _next_batch(self) -> Batch:
        count = min(len(self._pending), self._max_batch)
        return [self._pending.popleft() for _ in range(count)]

    async def _flush(self, connection: PoolConnectionProxy, batch: Batch) -> bool:
        """Write one batch; False (each waiter told why) when the connection is no longer usable."""
        try:
            outcomes = await apply_increments(connection, self._spec, [item for item, _ in batch])
        except Exception as error:
            if len(batch) > 1 and refused_for_its_data(error):
                # One item's data made the database refuse the whole batch (nothing committed):
                # commit each alone, so only the item at fault fails.
                return await self._flush_one_by_one(connection, batch)
            return self._give_up(connection, batch, error)
        except BaseException as error:  # cancelled: the waiters must not hang
            self._fail(batch, error)
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # its caller may have gone away meanwhile
                future.set_result(outcome)
        return True

    async def _flush_one_by_one(self, connection: PoolConnectionProxy, batch: Batch) -> bool:
        for index, (item, future) in enumerate(batch):
            try:
                outcome = await apply_increment(connection, self._spec, item)
            except Exception as error:
                if not refused_for_its_data(error):
                    return self._give_up(connection, batch[index:], error)
                if not future.done():
                    future.set_exception(error)
                continue
            except BaseException as error:
                self._fail(batch[index:], error)
                raise
            if not future.done():
                future.set_result(outcome)
        return True

    def _give_up(self, connection: PoolConnectionProxy, batch: Batch, error: Exception) -> bool:
        self._fail(batch, error)
        if isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError) and not isinstance(
            error, ArgumentEncodingError
        ):
            connection.terminate()  # its state is unknown: never hand it out again
        return False

    @staticmethod
    def _fail(batch: Batch, error: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
