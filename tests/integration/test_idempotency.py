"""Idempotent increments (ARCHITECTURE.md: Data model, Write API): replays answer the first
answer, conflicts are refused, the server decides the delta, and concurrency never double counts."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import asyncpg
import httpx
import pytest

from scoreboard.db.score_events import totals_mismatch
from scoreboard.security.tickets import Ticket, TicketBook
from tests.factories import ACTION_TYPES, TICKET_SECRET, Player
from tests.integration.test_write_security import INCREMENT, assert_error, minted_ticket, user_state

HIGH_LIMITS = {"rate_limit_user_per_min": 10_000, "rate_limit_ip_per_min": 100_000}


async def event_deltas(database_url: str, player: Player) -> list[int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT delta FROM score_events WHERE user_id = $1 ORDER BY id", player.user_id
        )
    finally:
        await connection.close()
    return [row["delta"] for row in rows]


async def test_replay_after_success_returns_the_same_answer(
    api: httpx.AsyncClient, database_url: str
) -> None:
    alice = Player()
    assert (await alice.play(api, "quiz")).json()["newScore"] == 10
    headers, body = alice.signed(await alice.ticket(api))
    first = await api.post(INCREMENT, json=body, headers=headers)
    assert (await alice.play(api)).json()["newScore"] == 12  # the score moves on after the first answer

    replays = [await api.post(INCREMENT, json=body, headers=headers) for _ in range(3)]

    assert first.status_code == 200, first.text
    assert first.json()["newScore"] == 11
    assert first.json()["replayed"] is False
    assert "idempotent-replayed" not in first.headers
    for replay in replays:
        assert replay.status_code == 200, replay.text
        assert replay.json()["newScore"] == 11  # the stored answer, not today's score
        assert replay.json()["userId"] == str(alice.user_id)
        assert replay.json()["replayed"] is True
        assert replay.headers["idempotent-replayed"] == "true"
    assert await user_state(database_url, alice.user_id) == (12, 3)


SHORT_LIVED = ACTION_TYPES | {"blink": {"points": 3, "min_seconds": 0, "ttl_seconds": 0.4}}


async def test_a_retry_after_its_ticket_expired_replays_the_stored_answer(
    api_factory: Any, database_url: str
) -> None:
    api = await api_factory(action_types=SHORT_LIVED)
    alice = Player()
    ticket = await alice.ticket(api, "blink")
    headers, body = alice.signed(ticket)
    first = await api.post(INCREMENT, json=body, headers=headers)
    await asyncio.sleep(0.5)  # the ticket has expired; the client never saw the first answer

    retry_headers, retry_body = alice.signed(ticket)  # signed again, with a fresh timestamp
    retry = await api.post(INCREMENT, json=retry_body, headers=retry_headers)

    assert first.json()["newScore"] == 3
    assert retry.status_code == 200, retry.text
    assert retry.json() | {"rank": None} == {
        "userId": str(alice.user_id),
        "newScore": 3,
        "rank": None,
        "replayed": True,
        "boards": {"global": {"window": "all", "newScore": 3, "rank": retry.json()["rank"]}},
    }
    assert retry.headers["idempotent-replayed"] == "true"
    assert await user_state(database_url, alice.user_id) == (3, 1)


async def test_an_expired_ticket_is_still_refused_when_its_action_never_counted_or_differs(
    api_factory: Any, database_url: str
) -> None:
    api = await api_factory(action_types=SHORT_LIVED)
    alice = Player()
    unused, used = await alice.ticket(api, "blink"), await alice.ticket(api, "blink")
    headers, body = alice.signed(used)
    assert (await api.post(INCREMENT, json=body, headers=headers)).status_code == 200
    await asyncio.sleep(0.5)

    unused_headers, unused_body = alice.signed(unused)
    never_counted = await api.post(INCREMENT, json=unused_body, headers=unused_headers)
    other_delta_headers, other_delta = alice.signed(used, delta=1)
    different = await api.post(INCREMENT, json=other_delta, headers=other_delta_headers)

    assert_error(never_counted, 403, "UNAUTHORIZED", "ticket_expired")
    assert_error(different, 409, "IDEMPOTENCY_CONFLICT", "payload_mismatch")
    assert await user_state(database_url, alice.user_id) == (3, 1)


async def test_retry_resigned_with_a_fresh_timestamp_is_a_replay(
    api: httpx.AsyncClient, database_url: str
) -> None:
    alice = Player()
    ticket = await alice.ticket(api, "quiz")
    first_headers, first_body = alice.signed(ticket, delta=4, timestamp=int(time.time()) - 20)
    retry_headers, retry_body = alice.signed(ticket, delta=4, timestamp=int(time.time()))
    rotated_headers, rotated_body = alice.signed(ticket, delta=4, key_id="rotated")
    assert first_body["signature"] != retry_body["signature"] != rotated_body["signature"]

    first = await api.post(INCREMENT, json=first_body, headers=first_headers)
    retry = await api.post(INCREMENT, json=retry_body, headers=retry_headers)
    rotated = await api.post(INCREMENT, json=rotated_body, headers=rotated_headers)

    assert first.status_code == 200
    assert first.json()["newScore"] == 4
    for again in (retry, rotated):
        assert again.status_code == 200, again.text
        assert again.json()["newScore"] == 4
        assert again.json()["replayed"] is True
        assert again.headers["idempotent-replayed"] == "true"
    assert await user_state(database_url, alice.user_id) == (4, 1)


CONFLICTS = [
    pytest.param({"delta": 3}, {"delta": 5}, id="delta-changed"),
    pytest.param({"delta": 3}, {}, id="delta-dropped"),
    pytest.param({}, {"delta": 10}, id="delta-added-even-if-equal-to-points"),
]


@pytest.mark.parametrize(("first_options", "second_options"), CONFLICTS)
async def test_same_action_with_a_different_delta_is_a_conflict(
    api: httpx.AsyncClient, database_url: str, first_options: dict[str, Any], second_options: dict[str, Any]
) -> None:
    alice = Player()
    ticket = await alice.ticket(api, "quiz")
    headers, body = alice.signed(ticket, **first_options)
    first = await api.post(INCREMENT, json=body, headers=headers)
    assert first.status_code == 200, first.text
    before = await user_state(database_url, alice.user_id)

    headers, body = alice.signed(ticket, **second_options)
    conflict = await api.post(INCREMENT, json=body, headers=headers)

    details = assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT")["details"]
    assert details.get("actionId") == ticket["actionId"]
    assert await user_state(database_url, alice.user_id) == before
    # ...and the original request still replays its own answer afterwards.
    headers, body = alice.signed(ticket, **first_options)
    replay = await api.post(INCREMENT, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert replay.json()["newScore"] == first.json()["newScore"]


async def test_same_action_with_another_valid_nonce_is_a_conflict(
    api: httpx.AsyncClient, database_url: str
) -> None:
    alice = Player()
    now_ms = int(time.time() * 1000)
    first_ticket = minted_ticket(alice, "quiz", now_ms - 2000)
    # A second genuine ticket for the same actionId, issued at another time: another nonce.
    reissued = Ticket(alice.user_id, uuid.UUID(first_ticket["actionId"]), "quiz", now_ms - 1000)
    second_ticket = {"actionId": first_ticket["actionId"], "nonce": TicketBook(TICKET_SECRET).issue(reissued)}
    assert second_ticket["nonce"] != first_ticket["nonce"]

    headers, body = alice.signed(first_ticket)
    assert (await api.post(INCREMENT, json=body, headers=headers)).status_code == 200
    headers, body = alice.signed(second_ticket)
    assert_error(await api.post(INCREMENT, json=body, headers=headers), 409, "IDEMPOTENCY_CONFLICT")
    assert await user_state(database_url, alice.user_id) == (10, 1)


@pytest.mark.parametrize(
    ("delta", "credited"),
    [
        pytest.param(3, 3, id="asks-less"),
        pytest.param(10, 10, id="asks-exactly"),
        pytest.param(99, 10, id="asks-more-clamped"),
        pytest.param(None, 10, id="no-delta"),
        pytest.param(1_000_000, 10, id="asks-a-million-clamped"),
        pytest.param(10**9, 10, id="asks-a-billion-clamped"),
    ],
)
async def test_the_server_decides_the_delta(
    api: httpx.AsyncClient, database_url: str, delta: int | None, credited: int
) -> None:
    alice = Player()
    response = await alice.play(api, "quiz", delta=delta)
    assert response.status_code == 200, response.text
    assert response.json()["newScore"] == credited
    assert await event_deltas(database_url, alice) == [credited]
    assert await user_state(database_url, alice.user_id) == (credited, 1)


async def test_concurrent_duplicates_never_double_count(api_factory: Any, database_url: str) -> None:
    api: httpx.AsyncClient = await api_factory(**HIGH_LIMITS)
    players = [Player(f"Player {index}", ip=f"198.51.100.{index}") for index in range(20)]
    rng = random.Random(20240501)
    plans = {player.user_id: [rng.choice(["default", "quiz"]) for _ in range(5)] for player in players}

    tickets = await asyncio.gather(
        *(player.ticket(api, kind) for player in players for kind in plans[player.user_id])
    )
    pairs = []
    for index, ticket in enumerate(tickets):
        player = players[index // 5]
        headers, body = player.signed(ticket)
        pairs.append([(player, ticket, headers, body)] * 2)  # each action sent twice, side by side
    rng.shuffle(pairs)
    signed = [request for pair in pairs for request in pair]

    responses = await asyncio.gather(
        *(api.post(INCREMENT, json=body, headers=headers) for _, _, headers, body in signed)
    )

    assert len(responses) == 200
    assert [r.status_code for r in responses] == [200] * 200, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (_, ticket, _, _), response in zip(signed, responses, strict=True):
        answers[ticket["actionId"]].append(response.json())
    for action_answers in answers.values():
        assert sorted(answer["replayed"] for answer in action_answers) == [False, True]
        assert action_answers[0]["newScore"] == action_answers[1]["newScore"]

    connection = await asyncpg.connect(database_url)
    try:
        for player in players:
            points = [ACTION_TYPES[kind]["points"] for kind in plans[player.user_id]]
            score = await connection.fetchval("SELECT score FROM scores WHERE user_id = $1", player.user_id)
            assert score == sum(points), player.name
            committed = sorted(
                answer["newScore"]
                for (owner, ticket, _, _), answer in zip(signed, (r.json() for r in responses), strict=True)
                if owner is player and not answer["replayed"]
            )
            assert committed[-1] == sum(points)
            assert len(set(committed)) == 5
        assert await connection.fetchval("SELECT count(*) FROM score_events") == 100
        assert await totals_mismatch(connection) == []
    finally:
        await connection.close()
