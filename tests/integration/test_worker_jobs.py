"""The worker (ARCHITECTURE.md: Events): absolute, idempotent, order-safe apply_score, and the
coalesced `leaderboard_updated` publisher, on a real Redis."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import to_micros
from scoreboard.redis_store.job_queue import apply_score_job
from scoreboard.redis_store.keys import EVENT_STREAM, PROFILES, BoardKeys
from services.worker.context import WorkerContext
from services.worker.jobs import apply_score
from services.worker.reconciler import reconcile
from tests.waiting import eventually

BOARD = "global"
WINDOW = "all"
KEYS = BoardKeys(BOARD)
T0 = to_micros(datetime(2024, 3, 1, tzinfo=UTC))


def state(user: uuid.UUID, score: int, at_us: int | None = None) -> ScoreState:
    return ScoreState(BOARD, user, score, T0 + score * 1_000 if at_us is None else at_us)


def payload(s: ScoreState, *, name: str = "Ada", public: bool = True, event_id: int = 1) -> dict[str, Any]:
    return apply_score_job(
        [s],
        display_name=name,
        is_public=public,
        event_id=event_id,
        committed_us=s.reached_at_us,
        traceparent=None,
    ).payload


async def run(worker: WorkerContext, job: dict[str, Any]) -> str:
    return await apply_score({"scoreboard": worker}, job)


async def stream(worker: WorkerContext, kind: str | None = None) -> list[tuple[str, dict[bytes, bytes]]]:
    entries = await worker.redis.xrange(EVENT_STREAM)
    out = [(entry_id.decode(), fields) for entry_id, fields in entries]
    return [e for e in out if kind is None or e[1][b"type"] == kind.encode()]


def data(fields: dict[bytes, bytes]) -> dict[str, Any]:
    decoded: dict[str, Any] = orjson.loads(fields[b"data"])
    return decoded


async def board_snapshot(worker: WorkerContext) -> tuple[Any, Any]:
    ranking = await worker.redis.zrange(KEYS.ranking, 0, -1, withscores=True)
    members = await worker.redis.hgetall(KEYS.members)  # type: ignore[misc]  # redis-py types sync and async as one
    return ranking, members


async def seed(worker: WorkerContext, count: int, *, top_score: int = 1000) -> list[uuid.UUID]:
    """count users with distinct scores, best first."""
    users = [uuid.uuid4() for _ in range(count)]
    await worker.leaderboard.save_profiles({u: (f"U{i:02d}", True) for i, u in enumerate(users)})
    await worker.leaderboard.apply([state(u, top_score - i, T0) for i, u in enumerate(users)])
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    return users


# --- apply_score ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def ready_board(worker: WorkerContext) -> None:
    """A started worker has reconciled once: the (empty) board is ready."""
    await worker.leaderboard.mark_ready(BOARD, WINDOW)


async def test_no_rank_is_announced_while_the_board_is_rebuilt(worker: WorkerContext) -> None:
    await worker.redis.delete(KEYS.ready)  # Redis lost the board; the rebuild has not finished
    ada = uuid.uuid4()
    await worker.pool.execute("INSERT INTO users (id, display_name) VALUES ($1, 'Ada')", ada)
    await worker.pool.execute(
        "INSERT INTO scores (board_id, user_id, score, reached_at) VALUES ($1, $2, 7, now())", BOARD, ada
    )
    job = payload(state(ada, 7))
    await run(worker, job)
    assert await stream(worker, "user_score_updated") == []

    await reconcile({"scoreboard": worker})  # rebuilds, then announces what is still unannounced

    (event,) = await stream(worker, "user_score_updated")
    assert data(event[1])["newScore"] == 7
    assert data(event[1])["rank"] == 1


async def test_apply_score_is_idempotent(worker: WorkerContext) -> None:
    ada = uuid.uuid4()
    job = payload(state(ada, 7))

    assert await run(worker, job) == "applied"
    after_first = await board_snapshot(worker)
    assert await run(worker, job) == "current"

    assert await board_snapshot(worker) == after_first
    assert await worker.redis.zscore(KEYS.ranking, after_first[0][0][0]) == 7
    events = await stream(worker, "user_score_updated")
    assert len(events) == 1
    assert data(events[0][1]) == {
        "type": "user_score_updated",
        "board": BOARD,
        "window": WINDOW,
        "userId": str(ada),
        "newScore": 7,
        "rank": 1,
    }
    assert events[0][1][b"user"] == str(ada).encode()


async def test_apply_score_is_order_safe(worker: WorkerContext) -> None:
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    ada = uuid.uuid4()
    newer, stale = state(ada, 5), state(ada, 3)

    assert await run(worker, payload(newer)) == "applied"
    assert await run(worker, payload(stale)) == "current"

    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada) == (5, 1)
    assert await worker.redis.zcard(KEYS.ranking) == 1  # one member per user, the old one removed
    events = [data(f) for _, f in await stream(worker, "user_score_updated")]
    assert [e["newScore"] for e in events] == [5]


async def test_apply_score_in_order_replaces_the_member_and_announces_each_score(
    worker: WorkerContext,
) -> None:
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    ada = uuid.uuid4()
    for score in (1, 2, 3):
        await run(worker, payload(state(ada, score)))
    assert await worker.redis.zcard(KEYS.ranking) == 1
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada) == (3, 1)
    events = [data(f) for _, f in await stream(worker, "user_score_updated")]
    assert [e["newScore"] for e in events] == [1, 2, 3]


async def test_apply_score_sets_the_absolute_score_never_adds(worker: WorkerContext) -> None:
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    ada = uuid.uuid4()
    big = state(ada, 2**40)
    for _ in range(3):
        await run(worker, payload(big))
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, ada) == (2**40, 1)
    assert await worker.redis.zscore(KEYS.ranking, (await worker.redis.hget(KEYS.members, str(ada)))) == 2**40  # type: ignore[misc]  # redis-py types sync and async as one
    assert len(await stream(worker, "user_score_updated")) == 1


async def test_apply_score_caches_the_profile(worker: WorkerContext) -> None:
    await worker.leaderboard.mark_ready(BOARD, WINDOW)
    ada, bob = uuid.uuid4(), uuid.uuid4()
    await run(worker, payload(state(ada, 9), name="Ada Lovelace"))
    await run(worker, payload(state(bob, 4), name="Bob", public=False))

    assert orjson.loads(await worker.redis.hget(PROFILES, str(ada))) == ["Ada Lovelace", True]  # type: ignore[misc]  # redis-py types sync and async as one
    assert orjson.loads(await worker.redis.hget(PROFILES, str(bob))) == ["Bob", False]  # type: ignore[misc]  # redis-py types sync and async as one
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert [e.to_public() for e in top] == [
        {"userId": str(ada), "displayName": "Ada Lovelace", "score": 9, "rank": 1},
        {"userId": None, "displayName": "Anonymous", "score": 4, "rank": 2},
    ]


async def test_user_score_updated_carries_the_rank_and_is_for_its_owner_alone(worker: WorkerContext) -> None:
    users = await seed(worker, 12)  # ranks 1..12, scores 1000..989
    private_leader, public_leader, public_low = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    await run(worker, payload(state(private_leader, 5000), name="Secret", public=False))
    await run(worker, payload(state(public_leader, 4000), name="Open"))
    await run(worker, payload(state(public_low, 10), name="Low"))  # rank 15: outside the Top 10

    events = {data(f)["userId"]: (data(f), f) for _, f in await stream(worker, "user_score_updated")}
    assert events[str(private_leader)][0]["rank"] == 1
    assert events[str(public_leader)][0]["rank"] == 2
    assert events[str(public_low)][0]["rank"] == len(users) + 3
    # Never public, not even a public user in the Top 10: the public stream carries the Top 10.
    assert {fields[b"pub"] for _, fields in events.values()} == {b"0"}
    assert {fields[b"user"] for _, fields in events.values()} == {
        str(u).encode() for u in (private_leader, public_leader, public_low)
    }
    # The event's rank is the board's rank.
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, public_low) == (10, len(users) + 3)


# --- TopPublisher: leaderboard_updated ------------------------------------------------------


async def test_publisher_announces_only_real_top10_changes(worker: WorkerContext) -> None:
    users = await seed(worker, 25)
    publisher = worker.publisher

    assert await publisher.publish_if_changed(BOARD, WINDOW) == 0.0
    first = await stream(worker, "leaderboard_updated")
    assert len(first) == 1
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert data(first[0][1])["top10"] == [e.to_public() for e in top]
    assert data(first[0][1])["type"] == "leaderboard_updated"
    v1 = data(first[0][1])["version"]

    await worker.redis.delete(KEYS.top_published_ms)  # as if the coalescing window had passed:
    # only "unchanged" can stop a publish now
    assert await publisher.publish_if_changed(BOARD, WINDOW) == 0.0
    assert len(await stream(worker, "leaderboard_updated")) == 1  # nothing changed

    # A change at rank 20 (981 -> 985, tied with rank 16 but later: rank 17) leaves the Top 10 as it was.
    await worker.leaderboard.apply([state(users[19], 985, T0 + 5)])
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, users[19]) == (985, 17)
    assert await publisher.publish_if_changed(BOARD, WINDOW) == 0.0
    assert len(await stream(worker, "leaderboard_updated")) == 1

    # Rank 15 takes the lead: the Top 10 changed.
    await worker.leaderboard.apply([state(users[14], 2000, T0 + 6)])
    await publisher.publish_if_changed(BOARD, WINDOW)
    published = await stream(worker, "leaderboard_updated")
    assert len(published) == 2
    second = data(published[1][1])
    assert second["version"] > v1
    assert second["top10"][0]["userId"] == str(users[14])
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert second["top10"] == [e.to_public() for e in top]
    assert await worker.leaderboard.top_version(BOARD, WINDOW) == second["version"]


async def test_publisher_coalesces_changes_within_a_window(worker: WorkerContext) -> None:
    users = await seed(worker, 15)
    publisher = worker.publisher
    window_ms = worker.settings.leaderboard_coalesce_ms
    assert window_ms == 100

    # Change 1: published at once.
    await worker.leaderboard.apply([state(users[12], 3000, T0 + 1)])
    assert await publisher.publish_if_changed(BOARD, WINDOW) == 0.0
    # Changes 2 and 3, within the window: nothing published yet, a wait is asked for.
    await worker.leaderboard.apply([state(users[13], 3001, T0 + 2)])
    wait_s = await publisher.publish_if_changed(BOARD, WINDOW)
    assert 0 < wait_s <= window_ms / 1000
    await worker.leaderboard.apply([state(users[14], 3002, T0 + 3)])
    assert await publisher.publish_if_changed(BOARD, WINDOW) > 0
    assert len(await stream(worker, "leaderboard_updated")) == 1

    # Once the window has passed (by Redis's clock), the held change is published.
    await eventually(lambda: publisher.publish_if_changed(BOARD, WINDOW), lambda wait_s: wait_s == 0.0)
    published = [data(f) for _, f in await stream(worker, "leaderboard_updated")]
    assert len(published) == 2
    assert published[1]["version"] - published[0]["version"] >= window_ms  # one per window
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert published[-1]["top10"] == [e.to_public() for e in top]  # the latest state went out
    assert [e["userId"] for e in published[-1]["top10"][:3]] == [
        str(users[14]),
        str(users[13]),
        str(users[12]),
    ]


async def test_publisher_ticker_coalesces_a_burst_of_jobs_and_ends_on_the_final_top10(
    worker: WorkerContext,
) -> None:
    await seed(worker, 12)
    worker.publisher.start()
    window_ms = worker.settings.leaderboard_coalesce_ms
    climbers = [uuid.uuid4() for _ in range(20)]
    for i, user in enumerate(climbers):  # 20 leader changes, each a new leader
        await run(worker, payload(state(user, 2000 + i), name=f"C{i:02d}"))

    async def published_tops() -> list[dict[str, Any]]:
        return [data(f) for _, f in await stream(worker, "leaderboard_updated")]

    def ends_on_the_last_climber(published: list[dict[str, Any]]) -> bool:
        return bool(published) and published[-1]["top10"][0]["userId"] == str(climbers[-1])

    published = await eventually(published_tops, ends_on_the_last_climber)
    assert 1 <= len(published) < len(climbers)  # coalesced, not one per change
    versions = [e["version"] for e in published]
    assert versions == sorted(set(versions))  # strictly increasing
    gaps = [b - a for a, b in itertools.pairwise(versions)]
    assert all(gap >= window_ms for gap in gaps), gaps  # at most one per window
    top = await worker.leaderboard.top(BOARD, WINDOW, 10)
    assert top is not None
    assert published[-1]["top10"] == [e.to_public() for e in top]
    assert published[-1]["top10"][0]["userId"] == str(climbers[-1])
