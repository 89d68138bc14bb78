"""One process's runtime flags: its OpenFeature provider, the view its code reads, the refresher.

Every `flags_refresh_ms` the refresher reads the source (builtin provider only) and evaluates
the flags again through the OpenFeature client; a change is logged, and handed to `on_change`.
While the source is away, the last state read stays in force (ARCHITECTURE.md: Operators).

The provider is registered under a domain of its own: OpenFeature's registry is global to the
interpreter, and a test may run several apps, each with its own database, in one process.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from openfeature import api
from openfeature.provider import FeatureProvider
from openfeature.provider.no_op_provider import NoOpProvider

from scoreboard.background import BackgroundLoop
from scoreboard.config import FlagSettings
from scoreboard.domain.flags import EffectiveFlags, StoredFlags
from scoreboard.flags.provider import SnapshotProvider
from scoreboard.flags.providers import BUILTIN, factory_of
from scoreboard.flags.view import FlagView

log = logging.getLogger("scoreboard.flags")

Source = Callable[[], Awaitable[StoredFlags | None]]
_RETIRED = NoOpProvider()  # what a stopped process's domain points at: stateless, shared


class FlagsRuntime:
    def __init__(
        self,
        settings: FlagSettings,
        *,
        service: str,
        source: Source,
        source_name: str,
        user_per_min: int = 60,
        ip_per_min: int = 600,
        on_change: Callable[[EffectiveFlags], None] | None = None,
    ) -> None:
        self.domain = f"scoreboard.{service}.{secrets.token_hex(4)}"
        self.builtin = settings.flags_provider == BUILTIN
        self._snapshot = SnapshotProvider(f"scoreboard-{source_name}") if self.builtin else None
        self.provider: FeatureProvider = self._snapshot or factory_of(settings.flags_provider)()
        self._source = source
        self._interval_s = settings.flags_refresh_ms / 1000
        self.view = FlagView(api.get_client(self.domain), user_per_min=user_per_min, ip_per_min=ip_per_min)
        self._on_change = on_change
        self._lock = asyncio.Lock()
        self._loop = BackgroundLoop(self._run, name=f"flags-{self.domain}")
        self._source_failing = False

    @property
    def current(self) -> EffectiveFlags:
        return self.view.current

    @property
    def stored(self) -> StoredFlags | None:
        """The last state read from the builtin provider's source (None with another provider)."""
        return self._snapshot.stored if self._snapshot is not None else None

    def start(self) -> None:
        if self.builtin:
            api.set_provider_and_wait(self.provider, self.domain)  # ours: nothing to wait for
        else:
            api.set_provider(self.provider, self.domain)  # connects in the SDK's thread
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        api.set_provider(_RETIRED, self.domain)  # shuts our provider down (in the SDK's thread)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug here must not freeze the flags for the process's lifetime
                log.exception("runtime flags refresh failed")
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> EffectiveFlags:
        """Read the source (builtin provider) and evaluate again, now. Serialised: a read that
        started before a change committed can never land after one that started later."""
        async with self._lock:
            if self._snapshot is not None:
                stored = await self._read_source()
                if stored is not None:
                    self._snapshot.update(stored)
            before = self.view.current
            if self.view.refresh():
                after = asdict(self.view.current)
                log.info("runtime flags applied", extra={"before": asdict(before), "after": after})
                if self._on_change is not None:
                    self._on_change(self.view.current)
            return self.view.current

    async def _read_source(self) -> StoredFlags | None:
        try:
            stored = await self._source()
        except Exception as error:  # whatever the source's failure, the last state stays in force
            if not self._source_failing:
                log.warning(
                    "runtime flags source unavailable: the last state stays", extra={"error": repr(error)}
                )
            self._source_failing = True
            return None
        if self._source_failing:
            log.info("runtime flags source available again")
        self._source_failing = False
        return stored
