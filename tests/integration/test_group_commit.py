"""Group commit: one transaction for many increments, each with the answer it would get alone."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from scoreboard.db.group_commit import GroupCommitter
from scoreboard.db.score_events import NewIncrement, apply_increments, board_spec, totals_mismatch
from scoreboard.domain.boards import ALL_TIME_GLOBAL

SPEC = board_spec([ALL_TIME_GLOBAL])


def item(user: uuid.UUID, action: uuid.UUID, delta: int = 1, request_hash: str = "h") -> NewIncrement:
    return NewIncrement(
        user_id=user,
        display_name="P",
        action_id=action,
        action_type="default",
        delta=delta,
        request_hash=request_hash,
        source="default",
        ip="127.0.0.1",
        user_agent=None,
        device_id=None,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    yield created
    await created.close()


async def test_a_batch_answers_each_item_as_if_alone(pool: asyncpg.Pool) -> None:
    ann, ben = uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    batch = [
        item(ann, first),
        item(ben, first, delta=5),
        item(ann, second),
        item(ann, first),
        item(ann, first, 9, "x"),
    ]

    answers = await apply_increments(pool, SPEC, batch)

    assert [(record.inserted, record.score_after) for record, _ in answers] == [
        (True, 1),
        (True, 5),
        (True, 2),
        (False, 1),
        (False, 1),
    ]
    assert answers[4][0].request_hash == "h"  # the stored payload: the caller reports a conflict
    assert await totals_mismatch(pool) == []


async def test_concurrent_batches_never_deadlock_or_double_count(pool: asyncpg.Pool) -> None:
    committer = GroupCommitter(pool, SPEC, flushers=4, max_batch=8)
    users = [uuid.uuid4() for _ in range(10)]
    actions = [(random.choice(users), uuid.uuid4()) for _ in range(300)]
    sent = actions + random.sample(actions, 100)  # a third of them sent twice
    random.shuffle(sent)

    answers = await asyncio.gather(*(committer.apply(item(user, action)) for user, action in sent))

    assert sum(1 for record, _ in answers if record.inserted) == len(actions)
    rows = await pool.fetch("SELECT user_id, score FROM scores")
    expected = {user: sum(1 for owner, _ in actions if owner == user) for user in users}
    assert {row["user_id"]: row["score"] for row in rows} == {u: n for u, n in expected.items() if n}
    assert await totals_mismatch(pool) == []


async def _busy_batch(committer: GroupCommitter, items: list[NewIncrement]) -> list[object]:
    """Send items while the only flusher is busy, so they are all written as one batch."""
    blocker = asyncio.ensure_future(committer.apply(item(uuid.uuid4(), uuid.uuid4())))
    await asyncio.sleep(0)  # the only flusher takes it, alone, and waits for the database
    waiting = [asyncio.ensure_future(committer.apply(each)) for each in items]
    await blocker
    return await asyncio.gather(*waiting, return_exceptions=True)


async def test_an_item_the_database_refuses_fails_alone_and_the_rest_of_its_batch_commits(
    pool: asyncpg.Pool,
) -> None:
    committer = GroupCommitter(pool, SPEC, flushers=1, max_batch=100)
    user = uuid.uuid4()
    honest = [item(user, uuid.uuid4()), item(user, uuid.uuid4())]
    refused = item(user, uuid.uuid4(), delta=0)  # violates delta >= 1

    results = await _busy_batch(committer, [honest[0], refused, honest[1]])

    assert isinstance(results[1], asyncpg.CheckViolationError)
    assert [record.score_after for record, _ in results[::2]] == [1, 2]  # type: ignore[index]
    assert await pool.fetchval("SELECT score FROM scores WHERE user_id = $1", user) == 2
    assert await totals_mismatch(pool) == []


@pytest.mark.parametrize(
    "poison",
    ["Mallory\x00", "Mallory\ud800"],  # PostgreSQL refuses U+0000; asyncpg cannot encode a surrogate
    ids=["nul", "lone-surrogate"],
)
async def test_a_poisoned_item_in_a_busy_batch_fails_no_honest_item(pool: asyncpg.Pool, poison: str) -> None:
    committer = GroupCommitter(pool, SPEC, flushers=1, max_batch=100)
    honest_users = [uuid.uuid4() for _ in range(60)]
    honest = [item(user, uuid.uuid4()) for user in honest_users]
    poisoned = replace(item(uuid.uuid4(), uuid.uuid4()), display_name=poison)

    results = await _busy_batch(committer, [*honest[:30], poisoned, *honest[30:]])

    assert isinstance(results[30], asyncpg.PostgresError | ValueError), results[30]
    answers = results[:30] + results[31:]
    assert all(not isinstance(answer, BaseException) for answer in answers), answers
    rows = await pool.fetch("SELECT user_id, score FROM scores")
    scores = {row["user_id"]: row["score"] for row in rows}
    assert {user: scores.get(user) for user in honest_users} == dict.fromkeys(honest_users, 1)
    assert poisoned.user_id not in scores
    events = await pool.fetchval(
        "SELECT count(*) FROM score_events WHERE user_id = ANY($1::uuid[])", honest_users
    )
    assert events == len(honest_users)
    assert await totals_mismatch(pool) == []


async def test_a_database_that_is_away_fails_the_whole_batch(pool: asyncpg.Pool, database_url: str) -> None:
    """Unavailability is not one item's fault: nothing is retried alone, every waiter is told."""
    broken = await asyncpg.create_pool(database_url.rsplit("/", 1)[0] + "/no_such_database", min_size=0)
    committer = GroupCommitter(broken, SPEC, flushers=1, max_batch=10)

    results = await asyncio.gather(
        *(committer.apply(item(uuid.uuid4(), uuid.uuid4())) for _ in range(5)), return_exceptions=True
    )

    assert all(isinstance(result, asyncpg.InvalidCatalogNameError) for result in results), results
    await broken.close()
