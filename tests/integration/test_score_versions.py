"""Scores carry a version (the event that made them): Redis takes a copy only over an older one,
so an adjustment may lower a score and no late copy from before it brings the old score back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import to_micros
from services.worker.context import WorkerContext
from services.worker.reconciler import reconcile
from tests.factories import Player
from tests.integration.test_worker_jobs import data, payload, run, stream

BOARD = "global"
WINDOW = "all"
T0 = to_micros(datetime(2024, 3, 1, tzinfo=UTC))


def state(user: uuid.UUID, score: int, version: int, at_s: int = 0) -> ScoreState:
    return ScoreState(BOARD, user, score, T0 + at_s * 1_000_000, WINDOW, version)


async def test_a_newer_version_may_lower_a_score_and_a_late_older_copy_is_refused(
    worker: WorkerContext,
) -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    await worker.leaderboard.apply([state(ada, 50, 10), state(bob, 45, 11)])

    (lowered,) = await worker.leaderboard.apply([state(ada, 40, 12, at_s=5)])
    assert (lowered.applied, lowered.rank) == (True, 2)
    (late,) = await worker.leaderboard.apply([state(ada, 50, 10)])  # a retried job from before
    assert (late.applied, late.needs_event) == (False, False)
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada) == (40, 2)
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, bob) == (45, 1)


async def test_equal_versions_compare_by_score_as_before_versions_existed(worker: WorkerContext) -> None:
    ada = uuid.uuid4()
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    await worker.leaderboard.apply([state(ada, 7, 0, at_s=1)])
    (lower,) = await worker.leaderboard.apply([state(ada, 5, 0, at_s=2)])
    (higher,) = await worker.leaderboard.apply([state(ada, 9, 0, at_s=3)])
    assert (lower.applied, higher.applied) == (False, True)
    (versioned,) = await worker.leaderboard.apply([state(ada, 3, 1, at_s=4)])
    assert versioned.applied  # any version is newer than none
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada) == (3, 1)


async def test_a_lowered_score_is_announced_and_later_scores_below_the_old_one_too(
    worker: WorkerContext,
) -> None:
    ada = uuid.uuid4()
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    await run(worker, payload(state(ada, 50, 10), event_id=10))
    await run(worker, payload(state(ada, 40, 12, at_s=5), event_id=12))
    await run(worker, payload(state(ada, 41, 13, at_s=6), event_id=13))
    announced = [data(fields)["newScore"] for _, fields in await stream(worker, "user_score_updated")]
    assert announced == [50, 40, 41]


async def test_the_reconciler_carries_a_lowered_score_from_the_database_over_a_stale_copy(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    assert await reconcile({"scoreboard": worker}) == "rebuilt:0,repaired:0"
    ada = Player("Ada")
    for _ in range(3):
        assert (await ada.play(api, "quiz")).status_code == 200
    row = await worker.pool.fetchrow(
        "SELECT * FROM scoreboard_apply_adjustment($1, $2, 'global', 'all', -25, NULL, NULL)",
        uuid.uuid4(),
        ada.user_id,
    )
    assert row["score_after"] == 5
    await reconcile({"scoreboard": worker})  # no job was enqueued: the feed carries it
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada.user_id) == (5, 1)
    # A copy of the score before the adjustment, arriving late, changes nothing.
    stale = await worker.pool.fetchval(
        "SELECT max(id) FROM score_events WHERE user_id = $1 AND source <> 'admin'", ada.user_id
    )
    await worker.leaderboard.apply([state(ada.user_id, 30, stale)])
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada.user_id) == (5, 1)
