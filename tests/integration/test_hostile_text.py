"""Control characters from outside never reach the database or a response, and one poisoned
request never fails another (the attack round's U+0000-in-a-JWT-name case, through the API)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from joserfc import jws
from joserfc.jwk import OctKey

from tests.factories import JWT_SECRET, Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_write_security import assert_error, signed_request


class NamedPlayer(Player):
    """A player whose token carries exactly the name given (dev tokens pass it through)."""

    @property
    def token(self) -> str:
        now = int(time.time())
        claims = {"sub": str(self.user_id), "name": self.name, "iat": now, "exp": now + 300}
        # json.dumps escapes a lone surrogate as \\ud800, as an attacker's JSON would carry it.
        payload = json.dumps(claims).encode()
        return jws.serialize_compact({"alg": "HS256", "typ": "JWT"}, payload, OctKey.import_key(JWT_SECRET))


async def stored_names(database_url: str, users: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT id, display_name FROM users WHERE id = ANY($1::uuid[])", users)
    finally:
        await connection.close()
    return {row["id"]: row["display_name"] for row in rows}


async def test_a_name_with_control_characters_is_stored_and_shown_clean(
    api: httpx.AsyncClient, database_url: str
) -> None:
    mallory = NamedPlayer("Mal\x00lo\u202ery\n")

    response = await mallory.play(api)

    assert response.status_code == 200, response.text
    assert (await stored_names(database_url, [mallory.user_id]))[mallory.user_id] == "Mallory"
    top = (await api.get("/api/leaderboard/top")).json()
    assert top[0]["displayName"] == "Mallory"


async def test_a_poisoned_token_in_a_burst_of_honest_players_fails_nobody(
    api_factory: ApiClientFactory, database_url: str
) -> None:
    # One flusher: the burst queues up behind the first write and is committed in batches.
    api = await api_factory(db_group_flushers=1, rate_limit_ip_per_min=10_000)
    honest = [Player(f"Player {index}") for index in range(60)]
    poisoned = [NamedPlayer("Mallory\x00"), NamedPlayer("Trudy\ud800")]
    players: list[Player] = [*honest[:20], poisoned[0], *honest[20:40], poisoned[1], *honest[40:]]
    tickets = await asyncio.gather(*(player.ticket(api) for player in players))

    async def play(player: Player, ticket: dict[str, Any]) -> httpx.Response:
        headers, body = player.signed(ticket)
        return await api.post("/api/scores/increment", json=body, headers=headers)

    answers = await asyncio.gather(*(play(p, t) for p, t in zip(players, tickets, strict=True)))

    assert [answer.status_code for answer in answers] == [200] * len(players), [a.text for a in answers]
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT user_id, count(*) AS n, sum(delta) AS total FROM score_events GROUP BY 1"
        )
    finally:
        await connection.close()
    assert {row["user_id"]: (row["n"], row["total"]) for row in rows} == {p.user_id: (1, 1) for p in players}
    names = await stored_names(database_url, [p.user_id for p in poisoned])
    assert sorted(names.values()) == ["Mallory", "Trudy"]


@pytest.mark.parametrize("field", ["nonce", "keyId"])
async def test_control_characters_in_an_exact_field_are_400(
    api: httpx.AsyncClient, database_url: str, field: str
) -> None:
    ann = Player("Ann")
    ticket = await ann.ticket(api)
    headers, body = signed_request(ann, action_id=ticket["actionId"], nonce=ticket["nonce"])
    body[field] = body[field] + "\x00"

    response = await api.post("/api/scores/increment", json=body, headers=headers)

    details = assert_error(response, 400, "VALIDATION_ERROR")
    assert [item["field"] for item in details["details"]["fields"]] == [field]
    assert "\x00" not in response.text
    assert "\\u0000" not in response.text


async def test_a_query_value_echoed_in_an_error_carries_no_control_character(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/leaderboard/top", params={"limit": "9\x00\x1b[2J"})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "\\u0000" not in response.text
    assert "\\u001b" not in response.text
    assert body["details"]["field"] == "limit"
