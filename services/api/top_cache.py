"""A short in-process cache of serialised Top-N bodies, with single-flight refresh.

Thousands of pollers then cost one Redis read per window per process, and an unchanged board
answers with the same strong ETag (so a conditional poll is a 304 with no body).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    etag: str
    expires_at: float


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class TopCache:
    def __init__(self, ttl_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_ms / 1000
        self._clock = clock
        self._entries: dict[tuple[str, int], CachedBody] = {}
        self._inflight: dict[tuple[str, int], asyncio.Future[CachedBody]] = {}

    async def get(
        self, key: tuple[str, int], load: Callable[[], Awaitable[bytes]], on_hit: Callable[[bool], None]
    ) -> CachedBody:
        cached = self._entries.get(key)
        if cached is not None and cached.expires_at > self._clock():
            on_hit(True)
            return cached
        on_hit(False)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedBody] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            body = await load()
            fresh = CachedBody(body, strong_etag(body), self._clock() + self._ttl_s)
            if self._ttl_s > 0:
                self._entries[key] = fresh
            future.set_result(fresh)
            return fresh
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._inflight[key]

    def clear(self) -> None:
        self._entries.clear()
