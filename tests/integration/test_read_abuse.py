"""Reads cannot be turned into unbounded memory or database work: unknown boards are 404 without
a query, and the public Top-N read is under a per-IP limit, cached or not."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Player
from tests.integration.conftest import ApiClientFactory, contexts
from tests.integration.test_write_security import assert_error, database_down_url, redis_down_url


@pytest.mark.parametrize("path", ["/api/leaderboard/top", "/api/scores/me", "/api/leaderboard/around/me"])
async def test_an_unknown_board_is_404_without_touching_a_store(
    api_factory: ApiClientFactory, path: str
) -> None:
    # Neither store is reachable: a 404 proves no query was even tried (a known board is 503).
    api = await api_factory(database_url=database_down_url(), redis_url=redis_down_url())
    headers = Player().headers()

    unknown = await api.get(path, params={"board": "nosuchboard"}, headers=headers)
    known = await api.get(path, params={"board": "global"}, headers=headers)

    body = assert_error(unknown, 404, "NOT_FOUND")
    assert body["details"] == {"board": "nosuchboard"}
    assert_error(known, 503, "UNAVAILABLE")


@pytest.mark.parametrize("board", ["Global", "a" * 33, "g.x", "-x", ""])
async def test_a_malformed_board_is_400(api: httpx.AsyncClient, board: str) -> None:
    response = await api.get("/api/leaderboard/top", params={"board": board})
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_thousands_of_invented_boards_and_queries_leave_bounded_caches(
    api_factory: ApiClientFactory,
) -> None:
    api = await api_factory(rate_limit_read_ip_per_min=100_000)
    context = contexts[api]
    for index in range(2000):
        unknown = await api.get("/api/leaderboard/top", params={"board": f"b{index}"})
        assert unknown.status_code == 404
        valid = await api.get("/api/leaderboard/top", params={"limit": 10, "nonsense": index})
        assert valid.status_code == 200

    assert len(context.top_cache) <= 50  # (known board, limit) pairs at most
    assert len(context.top_queries) <= 1024


@pytest.mark.parametrize("cached", [False, True], ids=["through-the-route", "from-the-fast-path"])
async def test_top_reads_are_limited_per_address(api_factory: ApiClientFactory, cached: bool) -> None:
    api = await api_factory(rate_limit_read_ip_per_min=5, top_cache_ms=1000 if cached else 0)
    ann, ben = {"x-forwarded-for": "198.51.100.1"}, {"x-forwarded-for": "198.51.100.2"}

    admitted = [await api.get("/api/leaderboard/top", headers=ann) for _ in range(5)]
    refused = await api.get("/api/leaderboard/top", headers=ann)
    other_address = await api.get("/api/leaderboard/top", headers=ben)

    assert [response.status_code for response in admitted] == [200] * 5
    assert_error(refused, 429, "RATE_LIMITED")
    assert refused.json()["details"]["scope"] == "ip"
    assert other_address.status_code == 200
