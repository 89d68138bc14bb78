"""A fresh cached Top N is answered before the middleware stack, with the same headers."""

from __future__ import annotations

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


async def test_a_cross_origin_poll_still_gets_its_cors_headers(api_factory: ApiClientFactory) -> None:
    api = await api_factory(top_cache_ms=1000, cors_origins=["https://game.example"])
    await api.get("/api/leaderboard/top")
    response = await api.get("/api/leaderboard/top", headers={"origin": "https://game.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://game.example"


async def test_an_invalid_query_is_never_served_from_the_fast_path(api_factory: ApiClientFactory) -> None:
    api = await api_factory(top_cache_ms=1000)
    for _ in range(2):
        response = await api.get("/api/leaderboard/top?limit=0")
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
