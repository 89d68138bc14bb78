"""The write path end to end in process: ticket, signed increment, replay, and the database truth."""

from __future__ import annotations

import asyncpg
import httpx

from scoreboard.db.score_events import totals_mismatch
from tests.factories import Player


async def test_increment_commits_once_and_replays_the_same_answer(
    api: httpx.AsyncClient, database_url: str
) -> None:
    alice = Player("Alice")
    ticket = await alice.ticket(api, "quiz")
    headers, body = alice.signed(ticket)

    first = await api.post("/api/scores/increment", json=body, headers=headers)
    again = await api.post("/api/scores/increment", json=body, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json() | {"top10IfChanged": None} == {
        "userId": str(alice.user_id),
        "newScore": 10,
        "rank": 1,
        "replayed": False,
        "boards": {"global": {"window": "all", "newScore": 10, "rank": 1}},
        "top10IfChanged": None,
    }
    assert again.status_code == 200
    assert again.json()["newScore"] == 10
    assert again.json()["replayed"] is True
    assert again.headers["idempotent-replayed"] == "true"
    assert "x-request-id" in first.headers
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT score FROM scores WHERE user_id = $1", alice.user_id) == 10
        assert await connection.fetchval("SELECT count(*) FROM score_events") == 1
        assert await totals_mismatch(connection) == []
    finally:
        await connection.close()


async def test_missing_token_gets_401_in_the_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/scores/increment", json={})
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert set(response.json()) == {"code", "message", "details"}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["x-request-id"]
