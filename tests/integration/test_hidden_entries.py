"""Hidden users (banned, quarantined) leave the ranking and the ranks below close up, in Redis,
in the database fallback and through a rebuild; shown again, they come back with their scores
(docs/decisions/0009-hidden-users-leave-the-rankings.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scoreboard.db import moderation, scores
from scoreboard.db.moderation import UserState
from scoreboard.domain.models import OwnStanding, ScoreState
from scoreboard.domain.ranking import to_micros
from services.worker.context import WorkerContext
from services.worker.reconciler import rebuild
from tests.integration.test_reconciler import insert_many

BOARD = "global"
WINDOW = "all"
T0 = to_micros(datetime(2024, 3, 1, tzinfo=UTC))


def state(user: uuid.UUID, score: int, version: int = 0) -> ScoreState:
    return ScoreState(BOARD, user, score, T0 + version, WINDOW, version)


async def ranking(worker: WorkerContext) -> list[tuple[uuid.UUID, int, int]]:
    entries = await worker.leaderboard.top(BOARD, WINDOW, 50) or []
    return [(entry.user_id, entry.score, entry.rank) for entry in entries]


async def test_a_hidden_entry_leaves_the_ranking_keeps_counting_and_comes_back(worker: WorkerContext) -> None:
    ann, bob, cyd = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    await worker.leaderboard.apply([state(ann, 30, 1), state(bob, 20, 2), state(cyd, 10, 3)])

    assert await worker.leaderboard.moderate(BOARD, WINDOW, {str(ann): True}) == 1
    assert await ranking(worker) == [(bob, 20, 1), (cyd, 10, 2)]  # ranks close up
    assert await worker.leaderboard.own_standing(BOARD, WINDOW, ann) == OwnStanding(30, 1, hidden=True)

    (outcome,) = await worker.leaderboard.apply([state(ann, 35, 4)])  # a quarantined user still plays
    assert (outcome.applied, outcome.rank, outcome.hidden) == (True, 1, True)
    assert await ranking(worker) == [(bob, 20, 1), (cyd, 10, 2)]
    assert await worker.leaderboard.moderate(BOARD, WINDOW, {str(ann): True}) == 0  # idempotent

    assert await worker.leaderboard.moderate(BOARD, WINDOW, {str(ann): False}) == 1
    assert await ranking(worker) == [(ann, 35, 1), (bob, 20, 2), (cyd, 10, 3)]
    assert await worker.leaderboard.own_standing(BOARD, WINDOW, ann) == OwnStanding(35, 1, hidden=False)


async def test_a_user_hidden_before_their_first_score_stays_out(worker: WorkerContext) -> None:
    ann, bob = uuid.uuid4(), uuid.uuid4()
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    await worker.leaderboard.apply([state(bob, 20, 1)])
    assert await worker.leaderboard.moderate(BOARD, WINDOW, {str(ann): True}) == 0
    assert await worker.leaderboard.own_standing(BOARD, WINDOW, ann) is None
    (outcome,) = await worker.leaderboard.apply([state(ann, 5, 2)])
    assert (outcome.rank, outcome.hidden) == (2, True)
    assert await ranking(worker) == [(bob, 20, 1)]
    await worker.leaderboard.moderate(BOARD, WINDOW, {str(ann): False})
    assert await ranking(worker) == [(bob, 20, 1), (ann, 5, 2)]


async def test_the_database_fallback_skips_hidden_users_and_shows_them_their_own_place(
    worker: WorkerContext,
) -> None:
    await insert_many(worker, 30, distinct_scores=1000)
    everyone = await scores.top(worker.pool, BOARD, WINDOW, 50)
    second = everyone[1]
    async with worker.pool.acquire() as connection:
        await moderation.set_state(connection, second.user_id, UserState.BANNED)

    shown = await scores.top(worker.pool, BOARD, WINDOW, 50)
    assert [entry.user_id for entry in shown] == [e.user_id for e in everyone if e.user_id != second.user_id]
    assert [entry.rank for entry in shown] == list(range(1, 30))
    third = everyone[2]
    assert await scores.score_and_rank(worker.pool, BOARD, WINDOW, third.user_id) == (third.score, 2)
    own = await scores.own_standing(worker.pool, BOARD, WINDOW, second.user_id)
    assert own == OwnStanding(second.score, 2, hidden=True)


async def test_a_rebuild_keeps_hidden_users_out_and_applies_changes_made_while_it_ran(
    worker: WorkerContext,
) -> None:
    await insert_many(worker, 250, distinct_scores=100_000)
    everyone = await scores.top(worker.pool, BOARD, WINDOW, 1000)
    banned_before, banned_during, unbanned_during = (
        everyone[0].user_id,
        everyone[1].user_id,
        everyone[2].user_id,
    )
    async with worker.pool.acquire() as connection:
        await moderation.set_state(connection, banned_before, UserState.BANNED)
        await moderation.set_state(connection, unbanned_during, UserState.QUARANTINED)

    async def meanwhile(copied: int) -> None:
        if copied == 100:
            async with worker.pool.acquire() as connection:
                await moderation.set_state(connection, banned_during, UserState.BANNED)
                await moderation.set_state(connection, unbanned_during, UserState.VISIBLE)

    worker.settings = worker.settings.model_copy(update={"rebuild_batch": 100})
    assert await rebuild(worker, BOARD, WINDOW, on_page=meanwhile) == "rebuilt:250"

    hidden = {banned_before, banned_during}
    want = [e for e in everyone if e.user_id not in hidden]
    shown = await worker.leaderboard.top(BOARD, WINDOW, 1000) or []
    assert [(e.user_id, e.score, e.rank) for e in shown] == [
        (e.user_id, e.score, rank) for rank, e in enumerate(want, start=1)
    ]
    assert await scores.top(worker.pool, BOARD, WINDOW, 1000) == shown  # Redis and the database agree
    own = await worker.leaderboard.own_standing(BOARD, WINDOW, banned_before)
    assert own == OwnStanding(everyone[0].score, 1, hidden=True)
