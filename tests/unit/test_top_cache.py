"""The Top-N cache: single flight, a TTL, and a strong ETag that only changes with the body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.api.top_cache import CachedBody, TopCache, strong_etag


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Returns its bodies in turn; a gated one holds every load until `gate` is set."""

    def __init__(self, *bodies: bytes, gated: bool = False) -> None:
        self.bodies = list(bodies)
        self.calls = 0
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        await self.gate.wait()
        return self.bodies[min(self.calls, len(self.bodies)) - 1]


class Lookups:
    """An on_hit callback that can be waited on: `await lookups.reach(n)` returns once n requests
    have looked the key up (and so, on a miss, have joined the load in flight)."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self, hit: bool) -> None:
        self.count += 1
        self._changed.set()

    async def reach(self, count: int) -> None:
        while self.count < count:
            self._changed.clear()
            await self._changed.wait()


def test_strong_etag_is_quoted_not_weak_and_follows_the_body() -> None:
    etag = strong_etag(b"[1]")
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert not etag.startswith("W/")
    assert etag == strong_etag(b"[1]")
    assert etag != strong_etag(b"[2]")


async def read_twice(
    load: Loader, apart_s: float, on_hit: Callable[[bool], None] = lambda hit: None
) -> tuple[CachedBody, CachedBody]:
    """The global Top 10 read twice, `apart_s` apart, through a cache with a 500 ms TTL."""
    clock = FakeClock()
    cache = TopCache(ttl_ms=500, clock=clock)
    first = await cache.get(("global", 10), load, on_hit)
    clock.now += apart_s
    return first, await cache.get(("global", 10), load, on_hit)


async def test_second_read_within_the_ttl_is_a_hit_without_loading() -> None:
    load = Loader(b"a")
    seen: list[bool] = []
    first, second = await read_twice(load, 0.4, seen.append)
    assert load.calls == 1
    assert seen == [False, True]
    assert second == first


async def test_read_after_the_ttl_reloads() -> None:
    load = Loader(b"a", b"b")
    first, second = await read_twice(load, 0.5)
    assert load.calls == 2
    assert second.body == b"b"
    assert second.etag != first.etag


async def test_unchanged_body_keeps_the_same_etag_across_reloads() -> None:
    load = Loader(b"same", b"same")
    first, second = await read_twice(load, 1)
    assert load.calls == 2
    assert second.etag == first.etag


async def test_concurrent_misses_share_one_load() -> None:
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    load, lookups = Loader(b"top", gated=True), Lookups()
    waiting = [asyncio.ensure_future(cache.get(("global", 10), load, lookups)) for _ in range(20)]
    await lookups.reach(20)  # every request missed while the first load is held
    load.gate.set()
    results = await asyncio.gather(*waiting)
    assert load.calls == 1
    assert {result.body for result in results} == {b"top"}


async def test_keys_are_cached_separately() -> None:
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    load10, load50 = Loader(b"ten"), Loader(b"fifty")
    assert (await cache.get(("global", 10), load10, lambda hit: None)).body == b"ten"
    assert (await cache.get(("global", 50), load50, lambda hit: None)).body == b"fifty"
    assert (load10.calls, load50.calls) == (1, 1)


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    calls, lookups, gate = 0, Lookups(), asyncio.Event()

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise ConnectionError("redis down")

    waiting = [asyncio.ensure_future(cache.get(("global", 10), failing, lookups)) for _ in range(5)]
    await lookups.reach(5)
    gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert (await cache.get(("global", 10), Loader(b"ok"), lambda hit: None)).body == b"ok"


async def test_zero_ttl_never_caches() -> None:
    cache = TopCache(ttl_ms=0, clock=FakeClock())
    load = Loader(b"a")
    await cache.get(("global", 10), load, lambda hit: None)
    await cache.get(("global", 10), load, lambda hit: None)
    assert load.calls == 2


async def test_clear_forgets_cached_bodies() -> None:
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    load = Loader(b"a", b"b")
    await cache.get(("global", 10), load, lambda hit: None)
    cache.clear()
    assert (await cache.get(("global", 10), load, lambda hit: None)).body == b"b"


async def test_a_cancelled_leader_does_not_fail_its_followers() -> None:
    # The leader is the request that happened to start the load; if its client goes away and
    # its task is cancelled, the requests waiting on the same load must still get the board.
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    load, lookups = Loader(b"top", gated=True), Lookups()
    leader = asyncio.create_task(cache.get(("global", 10), load, lookups))
    follower = asyncio.create_task(cache.get(("global", 10), load, lookups))
    await lookups.reach(2)  # both wait on the one load the leader started
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    load.gate.set()
    assert (await follower).body == b"top"
    assert load.calls == 1
