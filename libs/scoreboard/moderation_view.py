"""Who is hidden or exempt now, as one process knows it: the API refuses a banned user's tickets,
increments and own reads (403 `user_banned`), the worker's anomaly detector skips users hidden
already or cleared by a reviewer, with no database round trip per request or event.

The view follows the moderation change feed (user_moderation) every `interval_s`: in full the
first time, then what changed since the newest change seen minus a safety margin (a change
stamped before that but committed later is still read). A ban therefore applies on every process
within one interval plus a read (the contract: 2 s). While PostgreSQL is away, the last view
read stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from scoreboard.background import BackgroundLoop
from scoreboard.db import moderation
from scoreboard.db.moderation import Moderation, UserState
from scoreboard.domain.errors import Reason, Unauthorized

log = logging.getLogger("scoreboard.moderation")

REFRESH_S = 0.5
PAGE = 5000
MARGIN = timedelta(seconds=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ModerationView:
    def __init__(self, pool: asyncpg.Pool, interval_s: float = REFRESH_S) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._known: dict[UUID, Moderation] = {}  # users hidden, or exempt: the others are visible
        self._newest = _EPOCH
        self._lock = asyncio.Lock()
        self._loop = BackgroundLoop(self._run, name="moderation-view")
        self._failing = False

    def state(self, user_id: UUID) -> UserState:
        found = self._known.get(user_id)
        return found.state if found else UserState.VISIBLE

    def refuse_banned(self, user_id: UUID) -> None:
        if self.state(user_id) is UserState.BANNED:
            raise Unauthorized("this account is banned", reason=Reason.USER_BANNED)

    def watched(self, user_id: UUID, now: datetime) -> bool:
        """Whether the anomaly detector may quarantine this user: visible, and not exempt."""
        found = self._known.get(user_id)
        return found is None or (
            found.state is UserState.VISIBLE and (found.exempt_until is None or found.exempt_until <= now)
        )

    def note(self, user_id: UUID, found: Moderation) -> None:
        """A change this process just committed, known before the next read."""
        self._remember(user_id, found)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as error:  # whatever failed, the last view read stays in force
                if not self._failing:
                    log.warning("moderation unreadable: the last view stays", extra={"error": repr(error)})
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
                for user, change in found.items():
                    self._remember(user, change)
                self._newest = max(self._newest, cursor[0])
                if len(found) < PAGE:
                    return

    def _remember(self, user_id: UUID, found: Moderation) -> None:
        if found.state is UserState.VISIBLE and found.exempt_until is None:
            self._known.pop(user_id, None)
        else:
            self._known[user_id] = found
