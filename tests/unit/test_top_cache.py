"""The Top-N cache: single flight, a TTL, and a strong ETag that only changes with the body."""

from __future__ import annotations

import asyncio

import pytest

from services.api.top_cache import TopCache, strong_etag


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self, *bodies: bytes, delay: float = 0) -> None:
        self.bodies = list(bodies)
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> bytes:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.bodies[min(self.calls, len(self.bodies)) - 1]


def test_strong_etag_is_quoted_not_weak_and_follows_the_body() -> None:
    etag = strong_etag(b"[1]")
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert not etag.startswith("W/")
    assert etag == strong_etag(b"[1]")
    assert etag != strong_etag(b"[2]")


async def test_second_read_within_the_ttl_is_a_hit_without_loading() -> None:
    clock = FakeClock()
    cache = TopCache(ttl_ms=500, clock=clock)
    load = Loader(b"a")
    seen: list[bool] = []
    first = await cache.get(("global", 10), load, seen.append)
    clock.now += 0.4
    second = await cache.get(("global", 10), load, seen.append)
    assert load.calls == 1
    assert seen == [False, True]
    assert second == first


async def test_read_after_the_ttl_reloads() -> None:
    clock = FakeClock()
    cache = TopCache(ttl_ms=500, clock=clock)
    load = Loader(b"a", b"b")
    first = await cache.get(("global", 10), load, lambda hit: None)
    clock.now += 0.5
    second = await cache.get(("global", 10), load, lambda hit: None)
    assert load.calls == 2
    assert second.body == b"b"
    assert second.etag != first.etag


async def test_unchanged_body_keeps_the_same_etag_across_reloads() -> None:
    clock = FakeClock()
    cache = TopCache(ttl_ms=500, clock=clock)
    load = Loader(b"same", b"same")
    first = await cache.get(("global", 10), load, lambda hit: None)
    clock.now += 1
    second = await cache.get(("global", 10), load, lambda hit: None)
    assert load.calls == 2
    assert second.etag == first.etag


async def test_concurrent_misses_share_one_load() -> None:
    cache = TopCache(ttl_ms=500, clock=FakeClock())
    load = Loader(b"top", delay=0.01)
    results = await asyncio.gather(*(cache.get(("global", 10), load, lambda hit: None) for _ in range(20)))
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
    calls = 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("redis down")

    outcomes = await asyncio.gather(
        *(cache.get(("global", 10), failing, lambda hit: None) for _ in range(5)), return_exceptions=True
    )
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
    load = Loader(b"top", delay=0.05)
    leader = asyncio.create_task(cache.get(("global", 10), load, lambda hit: None))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(cache.get(("global", 10), load, lambda hit: None))
    await asyncio.sleep(0.01)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert (await follower).body == b"top"
