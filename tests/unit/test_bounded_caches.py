"""Every in-process cache stays bounded in entries, whatever clients send."""

from __future__ import annotations

from starlette.requests import Request

from scoreboard.telemetry.metrics import Metrics
from scoreboard.web.middleware import RequestLog
from services.api.queries import TopQueries
from services.api.read_limit import ReadLimiter
from services.api.top_cache import TopCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_read_limiter_admits_a_burst_then_refills_continuously() -> None:
    clock = Clock()
    limiter = ReadLimiter(60, clock=clock)  # one a second

    burst = [limiter.admit("198.51.100.1") for _ in range(61)]

    assert burst[:60] == [0.0] * 60
    assert 0.9 < burst[60] <= 1.0
    assert limiter.admit("198.51.100.2") == 0.0  # another address has its own bucket
    clock.now += 1.0
    assert limiter.admit("198.51.100.1") == 0.0
    assert limiter.admit("198.51.100.1") > 0


def test_the_read_limiter_forgets_refilled_buckets_first_and_stays_bounded() -> None:
    clock = Clock()
    limiter = ReadLimiter(60, max_subjects=100, clock=clock)
    for index in range(60):
        for _ in range(60):
            limiter.admit("busy")  # one address spent its whole budget
        limiter.admit(f"198.51.100.{index}")
    clock.now += 30  # the busy one has not refilled yet; the others have not either
    for index in range(1000):
        limiter.admit(f"203.0.113.{index}")
        assert len(limiter) <= 100
    clock.now += 61
    for index in range(99):
        limiter.admit(f"192.0.2.{index}")
    assert len(limiter) <= 100


def test_the_read_limiter_keeps_a_spent_bucket_when_it_forgets_others() -> None:
    clock = Clock()
    limiter = ReadLimiter(60, max_subjects=10, clock=clock)
    for index in range(8):
        limiter.admit(f"198.51.100.{index}")
    clock.now += 61  # those buckets are full again: forgetting them loses nothing
    for _ in range(60):
        limiter.admit("busy")
    limiter.admit("another")

    limiter.admit("new")  # the 11th address: the full buckets are forgotten, not the spent one

    assert len(limiter) == 3
    assert limiter.admit("busy") > 0


def _request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query})


def test_parsed_top_queries_are_bounded() -> None:
    queries = TopQueries(capacity=50)
    for index in range(1000):
        queries.parse(_request(b"limit=10&junk=%d" % index), {"global"})
        assert len(queries) <= 50


async def test_the_top_cache_is_bounded() -> None:
    cache = TopCache(60_000, capacity=20)

    async def load() -> bytes:
        return b"[]"

    for limit in range(100):
        await cache.get(("global", limit), load, lambda hit: None)
        assert len(cache) <= 20


def test_request_metrics_do_not_grow_with_invented_methods() -> None:
    log = RequestLog(Metrics("api-test-methods"), "off")
    for index in range(500):
        log.record("unmatched", f"M{index}", 405, 0.001)
    assert len(log._series) == 1
