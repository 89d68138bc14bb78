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

CACHE_CONTROL = b"public, max-age=1"


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    etag: str
    expires_at: float
    # The response headers, built once per body rather than once per request.
    ok_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def cached_body(body: bytes, expires_at: float) -> CachedBody:
    etag = strong_etag(body)
    common = [(b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL), (b"vary", b"Accept-Encoding")]
    ok = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *common]
    return CachedBody(body, etag, expires_at, ok, common)


class TopCache:
    def __init__(
        self, ttl_ms: int, clock: Callable[[], float] = time.monotonic, capacity: int = 4096
    ) -> None:
        self._ttl_s = ttl_ms / 1000
        self._clock = clock
        self._capacity = capacity  # keys are (known board, limit): bounded anyway, and here too
        self._entries: dict[tuple[str, str, int], CachedBody] = {}
        self._inflight: dict[tuple[str, str, int], asyncio.Future[CachedBody]] = {}

    def fresh(self, key: tuple[str, str, int]) -> CachedBody | None:
        """The cached body if it is still fresh, without loading anything."""
        cached = self._entries.get(key)
        return cached if cached is not None and cached.expires_at > self._clock() else None

    async def get(
        self, key: tuple[str, str, int], load: Callable[[], Awaitable[bytes]], on_hit: Callable[[bool], None]
    ) -> CachedBody:
        cached = self._entries.get(key)
        if cached is not None and cached.expires_at > self._clock():
            on_hit(True)
            return cached
        on_hit(False)
        refresh = self._inflight.get(key)
        if refresh is None:
            # Its own task: a caller that disconnects cancels only its wait, not everyone's load.
            refresh = asyncio.ensure_future(self._refresh(key, load))
            self._inflight[key] = refresh
            refresh.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(refresh)

    async def _refresh(self, key: tuple[str, str, int], load: Callable[[], Awaitable[bytes]]) -> CachedBody:
        body = await load()
        fresh = cached_body(body, self._clock() + self._ttl_s)
        if self._ttl_s > 0:
            if len(self._entries) >= self._capacity:
                self._entries.clear()
            self._entries[key] = fresh
        return fresh

    def _finished(self, key: tuple[str, str, int], done: asyncio.Future[CachedBody]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody waited for is not reported twice

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
