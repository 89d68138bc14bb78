"""The users banned now, as this API process knows them: tickets and increments of a banned user
are refused (403 `user_banned`) with no database round trip on the hot path.

The set is read from the moderation change feed (user_moderation) every `interval_s`: in full
the first time, then what changed since the newest change seen minus a safety margin (a change
stamped before that but committed later is still read). A ban therefore applies on every API
process within one interval plus a read (the contract: 2 s). While PostgreSQL is away, the last
set read stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from scoreboard.db import moderation
from scoreboard.db.moderation import UserState
from scoreboard.domain.errors import Reason, Unauthorized

log = logging.getLogger("scoreboard.api.bans")

REFRESH_S = 0.5
PAGE = 5000
MARGIN = timedelta(seconds=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BannedUsers:
    def __init__(self, pool: asyncpg.Pool, interval_s: float = REFRESH_S) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._banned: set[UUID] = set()
        self._newest = _EPOCH
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def __contains__(self, user_id: UUID) -> bool:
        return user_id in self._banned

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="banned-users")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as error:  # whatever failed, the last set read stays in force
                if not self._failing:
                    log.warning("banned users unreadable: the last set stays", extra={"error": repr(error)})
                self._failing = True
            else:
                self._failing = False
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> None:
        """Read what changed, now (serialised: an older read never lands after a newer one)."""
        async with self._lock:
            since = self._newest - MARGIN if self._newest > _EPOCH else _EPOCH
            cursor: moderation.Cursor = (since, moderation.NIL_UUID)
            while True:
                found, cursor = await moderation.changed_after(self._pool, cursor, PAGE)
                for user, state in found.items():
                    if state is UserState.BANNED:
                        self._banned.add(user)
                    else:
                        self._banned.discard(user)
                self._newest = max(self._newest, cursor[0])
                if len(found) < PAGE:
                    return


def refuse_if_banned(banned: BannedUsers, user_id: UUID) -> None:
    if user_id in banned:
        raise Unauthorized("this account is banned", reason=Reason.USER_BANNED)
