"""Group commit: one transaction for many increments, each with the answer it would get alone."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from scoreboard.db.group_commit import GroupCommitter
from scoreboard.db.score_events import NewIncrement, apply_increments, totals_mismatch


def item(user: uuid.UUID, action: uuid.UUID, delta: int = 1, request_hash: str = "h") -> NewIncrement:
    return NewIncrement(
        board_id="global",
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

    answers = await apply_increments(pool, batch)

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
    committer = GroupCommitter(pool, flushers=4, max_batch=8)
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


async def test_a_failing_batch_fails_each_of_its_requests_and_commits_none(pool: asyncpg.Pool) -> None:
    committer = GroupCommitter(pool, flushers=1, max_batch=10)
    user = uuid.uuid4()
    blocker = asyncio.ensure_future(committer.apply(item(user, uuid.uuid4())))
    await asyncio.sleep(0)  # the only flusher takes it, alone, and waits for the database
    good = asyncio.ensure_future(committer.apply(item(user, uuid.uuid4())))
    bad = asyncio.ensure_future(committer.apply(item(user, uuid.uuid4(), delta=0)))  # violates delta >= 1

    await blocker
    results = await asyncio.gather(good, bad, return_exceptions=True)

    assert all(isinstance(result, asyncpg.CheckViolationError) for result in results)
    assert await pool.fetchval("SELECT score FROM scores WHERE user_id = $1", user) == 1
