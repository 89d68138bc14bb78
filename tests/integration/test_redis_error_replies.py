"""An error reply by which Redis says "not now" (full, a read-only replica, busy) is Redis being
unavailable, exactly like a refused connection: a committed increment answers 200, reads and the
limiter fall back, the worker retries, the reconciler skips a tick. A reply that means a bug in
our own commands (WRONGTYPE, a script that fails) stays an error.

Each test runs its own redis-server (it is made full or read-only; the session's is shared).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from arq import Retry
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from devstack.net import free_port
from devstack.servers import EmbeddedRedis
from scoreboard.domain.models import ScoreState
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS, create_redis
from scoreboard.redis_store.job_queue import apply_score_job
from scoreboard.redis_store.leaderboard import Leaderboard
from scoreboard.redis_store.rate_limit import Check, RateLimiter
from services.worker import jobs, reconciler
from tests.factories import Player, worker_settings
from tests.integration.conftest import ApiClientFactory, WorkerFactory

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def _admin(server: EmbeddedRedis, *command: Any) -> Any:
    client = Redis.from_url(server.url)
    try:
        return await client.execute_command(*command)
    finally:
        await client.aclose()


async def fill_up(server: EmbeddedRedis) -> None:
    """Full, as after `maxmemory` is reached: every write is refused with OOM, reads still work."""
    await _admin(server, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    await _admin(server, "CONFIG", "SET", "maxmemory", "1")


async def free_up(server: EmbeddedRedis) -> None:
    await _admin(server, "CONFIG", "SET", "maxmemory", "0")


async def make_read_only(server: EmbeddedRedis) -> None:
    """A replica after a failover (of a primary that is gone): every write is refused with READONLY."""
    await _admin(server, "REPLICAOF", "127.0.0.1", str(free_port()))


@pytest.fixture
async def client(own_redis: EmbeddedRedis) -> AsyncIterator[Redis]:
    redis = create_redis(worker_settings("postgresql://unused", own_redis.url))
    yield redis
    await redis.aclose()


async def _error_of(call: Any) -> BaseException:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is what is asserted next
        await call
    return raised.value


async def test_a_full_redis_is_unavailable_to_commands_scripts_and_pipelines(
    own_redis: EmbeddedRedis, client: Redis
) -> None:
    leaderboard = Leaderboard(client)
    state = ScoreState("global", uuid.uuid4(), 3, 1_000)
    await fill_up(own_redis)
    errors = {
        "command": await _error_of(client.set("key", "value")),
        # Redis 6 wraps an error of a command inside a script: "Error running script ... -OOM ..."
        "script": await _error_of(leaderboard.apply([state])),
    }
    # The write-through: a script and a command in one pipeline.
    errors["pipeline"] = await _error_of(leaderboard.write_through([state], "Alice", True))
    for where, error in errors.items():
        assert isinstance(error, UNAVAILABLE_ERRORS), f"{where}: {type(error).__name__}: {error}"
    await free_up(own_redis)
    assert (await leaderboard.apply([state]))[0].applied


async def test_a_read_only_replica_is_unavailable_to_scripts(own_redis: EmbeddedRedis, client: Redis) -> None:
    await make_read_only(own_redis)
    error = await _error_of(Leaderboard(client).apply([ScoreState("global", uuid.uuid4(), 3, 1_000)]))
    assert isinstance(error, UNAVAILABLE_ERRORS), f"{type(error).__name__}: {error}"


async def test_a_bug_in_our_own_commands_is_not_mistaken_for_unavailability(client: Redis) -> None:
    await client.set("a-string", "value")
    wrong_type = await _error_of(client.zadd("a-string", {"member": 1}))
    failing_script = await _error_of(client.eval("return redis.call('ZADD', KEYS[1], 1, 'm')", 1, "a-string"))
    unknown = await _error_of(client.execute_command("NOSUCHCOMMAND"))
    for error in (wrong_type, failing_script, unknown):
        assert isinstance(error, ResponseError)
        assert not isinstance(error, UNAVAILABLE_ERRORS), f"{type(error).__name__}: {error}"


async def test_a_busy_redis_is_unavailable(own_redis: EmbeddedRedis, client: Redis) -> None:
    await _admin(own_redis, "CONFIG", "SET", "lua-time-limit", "50")
    blocker = Redis.from_url(own_redis.url)
    spinning = asyncio.ensure_future(blocker.eval("while true do end", 0))
    try:
        await asyncio.sleep(0.3)  # past lua-time-limit: every other client now gets BUSY
        error = await _error_of(client.get("key"))
        assert isinstance(error, UNAVAILABLE_ERRORS), f"{type(error).__name__}: {error}"
    finally:
        await _admin(own_redis, "SCRIPT", "KILL")
        with pytest.raises(ResponseError):
            await spinning
        await blocker.aclose()


async def test_a_committed_increment_answers_200_while_redis_is_full(
    own_redis: EmbeddedRedis, api_factory: ApiClientFactory, database_url: str
) -> None:
    api = await api_factory(redis_url=own_redis.url)
    alice = Player("Alice")
    assert (await alice.play(api, "quiz")).json()["newScore"] == 10
    await fill_up(own_redis)
    answers = [await alice.play(api, "quiz") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[-1].text
    assert [answer.json()["newScore"] for answer in answers] == [20, 30, 40]
    assert [answer.json()["rank"] for answer in answers] == [1, 1, 1]  # from the database
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval("SELECT score FROM scores WHERE user_id = $1", alice.user_id)
    finally:
        await connection.close()
    assert stored == 40
    top = await api.get("/api/leaderboard/top")
    assert top.status_code == 200
    assert top.json()[0]["score"] == 40  # Redis holds 10: the board is read from the database
    assert (await api.get("/api/scores/me", headers=alice.headers())).json()["score"] == 40


async def test_the_worker_retries_and_the_reconciler_skips_while_redis_is_read_only(
    own_redis: EmbeddedRedis, worker_factory: WorkerFactory
) -> None:
    context = await worker_factory(redis_url=own_redis.url)
    await make_read_only(own_redis)
    state = ScoreState("global", uuid.uuid4(), 5, 1_000)
    payload = apply_score_job(
        [state], display_name="Bob", is_public=True, event_id=1, committed_us=1_000, traceparent=None
    ).payload
    with pytest.raises(Retry):
        await jobs.apply_score({"scoreboard": context}, payload)
    assert (
        await reconciler.reconcile({"scoreboard": context}) == "skipped,profiles:skipped,moderation:skipped"
    )


async def test_the_limiter_keeps_its_policy_while_redis_is_read_only(
    own_redis: EmbeddedRedis, client: Redis
) -> None:
    fallbacks: list[int] = []
    limiter = RateLimiter(client, on_fallback=lambda: fallbacks.append(1))
    await make_read_only(own_redis)
    decisions = [(await limiter.hit(Check("increment-user", "u1", 2)))[0].admitted for _ in range(3)]
    assert decisions == [True, True, False]
    assert len(fallbacks) == 3
