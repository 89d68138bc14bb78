"""Property (ARCHITECTURE.md: Tests): whatever mix of new actions and replays a client sends, the score is
the sum of the distinct actions' server deltas, and newScore never goes down along the way."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreboard.db.score_events import totals_mismatch
from tests.factories import ACTION_TYPES, Player
from tests.integration.test_idempotency import HIGH_LIMITS
from tests.integration.test_write_security import INCREMENT, minted_ticket

# A marathon ticket is minted as if issued 40 s ago, so it is past its 30 s minimum.
MARATHON_HEAD_START_MS = 40_000


@dataclass(frozen=True)
class New:
    action_type: str
    delta: int | None


@dataclass(frozen=True)
class Replay:
    pick: int  # which earlier new action (modulo how many there are)
    resign: bool  # signed again with a fresh timestamp, or the very same bytes


steps = st.lists(
    st.one_of(
        st.builds(New, st.sampled_from(sorted(ACTION_TYPES)), st.none() | st.integers(1, 60)),
        st.builds(Replay, st.integers(0, 1000), st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


@dataclass
class Sent:
    ticket: dict[str, Any]
    delta: int | None
    credited: int
    headers: dict[str, str]
    body: dict[str, Any]
    new_score: int


@pytest.fixture
async def roomy_api(api_factory: Any) -> httpx.AsyncClient:
    return await api_factory(**HIGH_LIMITS)


async def _ticket(api: httpx.AsyncClient, player: Player, action_type: str) -> dict[str, Any]:
    if action_type == "marathon":
        return minted_ticket(player, "marathon", int(time.time() * 1000) - MARATHON_HEAD_START_MS)
    return await player.ticket(api, action_type)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_score_is_the_sum_of_distinct_actions_and_never_decreases(
    roomy_api: httpx.AsyncClient, database_url: str, plan: list[New | Replay]
) -> None:
    api = roomy_api
    player = Player("Prop")  # a fresh user per example: examples do not see each other
    sent: list[Sent] = []
    committed: list[int] = []  # newScore of each first (non-replayed) answer
    current: list[int] = []  # the user's score after each step, as GET /api/scores/me reports it

    for step in plan:
        if isinstance(step, Replay) and sent:
            original = sent[step.pick % len(sent)]
            headers, body = (
                player.signed(original.ticket, delta=original.delta)
                if step.resign
                else (original.headers, original.body)
            )
            response = await api.post(INCREMENT, json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["replayed"] is True
            assert response.headers["idempotent-replayed"] == "true"
            assert response.json()["newScore"] == original.new_score
        else:
            new = step if isinstance(step, New) else New("default", None)
            ticket = await _ticket(api, player, new.action_type)
            headers, body = player.signed(ticket, delta=new.delta)
            response = await api.post(INCREMENT, json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["replayed"] is False
            points = ACTION_TYPES[new.action_type]["points"]
            credited = points if new.delta is None else min(new.delta, points)
            previous = sent[-1].new_score if sent else 0
            assert response.json()["newScore"] == previous + credited
            sent.append(Sent(ticket, new.delta, credited, headers, body, response.json()["newScore"]))
            committed.append(response.json()["newScore"])
        me = await api.get("/api/scores/me", headers=player.headers())
        assert me.status_code == 200, me.text
        current.append(me.json()["score"])
        assert current[-1] == sum(item.credited for item in sent)
        assert response.json()["newScore"] <= current[-1]

    # Scores never decrease: not the user's score, and not the answers to new actions.
    assert current == sorted(current)
    assert committed == sorted(committed)
    assert len(set(committed)) == len(committed)
    expected = sum(item.credited for item in sent)
    connection = await asyncpg.connect(database_url)
    try:
        score = await connection.fetchval("SELECT score FROM scores WHERE user_id = $1", player.user_id)
        events = await connection.fetchval(
            "SELECT count(*) FROM score_events WHERE user_id = $1", player.user_id
        )
        assert (score, events) == (expected, len(sent))
        assert await totals_mismatch(connection) == []
    finally:
        await connection.close()
