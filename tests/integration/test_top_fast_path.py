"""A fresh cached Top N is answered before the middleware stack, with the same headers."""

from __future__ import annotations

import pytest

from tests.factories import Player
from tests.integration.conftest import ApiClientFactory


def _hits(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith('scoreboard_top_cache_total{result="hit"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_repeated_poll_is_answered_from_the_cache_with_the_full_headers(
    api_factory: ApiClientFactory,
) -> None:
    api = await api_factory(top_cache_ms=1000, cors_origins=["https://game.example"])
    assert (await Player("Ann").play(api)).status_code == 200

    first = await api.get("/api/leaderboard/top?limit=5")  # fills the cache through the full stack
    hits_before = _hits((await api.get("/metrics")).text)
    second = await api.get("/api/leaderboard/top?limit=5", headers={"x-request-id": "poll-0000001"})
    third = await api.get("/api/leaderboard/top?limit=5", headers={"if-none-match": second.headers["etag"]})
    hits_after = _hits((await api.get("/metrics")).text)

    assert second.status_code == 200
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == first.headers["cache-control"]
    assert second.headers["content-type"] == "application/json"
    assert second.headers["x-request-id"] == "poll-0000001"
    assert third.status_code == 304
    assert third.content == b""
    assert third.headers["x-request-id"]
    assert hits_after - hits_before == 2
    metrics = (await api.get("/metrics")).text
    counted = {
        line.split('status="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("scoreboard_http_requests_total{") and 'route="/api/leaderboard/top"' in line
    }
    assert counted == {"200": 2.0, "304": 1.0}


CORS_HEADERS = ("access-control-allow-origin", "access-control-expose-headers", "vary")


@pytest.mark.parametrize("origin", ["https://game.example", "https://evil.example", None])
async def test_a_cross_origin_poll_is_served_from_the_cache_with_the_stacks_cors_headers(
    api_factory: ApiClientFactory, origin: str | None
) -> None:
    api = await api_factory(top_cache_ms=1000, cors_origins=["https://game.example"])
    headers = {"origin": origin} if origin else {}
    through_the_stack = await api.get("/api/leaderboard/top", headers=headers)  # fills the cache
    hits_before = _hits((await api.get("/metrics")).text)

    cached = await api.get("/api/leaderboard/top", headers=headers)

    assert _hits((await api.get("/metrics")).text) - hits_before == 1
    assert cached.status_code == 200
    assert {name: cached.headers.get(name) for name in CORS_HEADERS} == {
        name: through_the_stack.headers.get(name) for name in CORS_HEADERS
    }
    if origin == "https://game.example":
        assert cached.headers["access-control-allow-origin"] == origin
        assert "x-request-id" in cached.headers["access-control-expose-headers"]
    else:
        assert "access-control-allow-origin" not in cached.headers
    assert "Origin" in cached.headers["vary"]


async def test_a_preflight_gets_starlettes_answer_and_a_request_id(api_factory: ApiClientFactory) -> None:
    api = await api_factory(cors_origins=["https://game.example"])

    preflight = await api.options(
        "/api/scores/increment",
        headers={
            "origin": "https://game.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, x-request-timestamp",
        },
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://game.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-request-timestamp" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["x-request-id"]


async def test_an_invalid_query_is_never_served_from_the_fast_path(api_factory: ApiClientFactory) -> None:
    api = await api_factory(top_cache_ms=1000)
    for _ in range(2):
        response = await api.get("/api/leaderboard/top?limit=0")
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
