"""rebuild: Redis loses the board while PostgreSQL holds K users; time until the worker's
reconciler has rebuilt it (the board's `ready` key is back and ZCARD == K).

Users are inserted directly (COPY into users and scores) with an old `updated_at`, so the
reconciler's incremental catch-up leaves them alone and only the rebuild copies them. The
baseline is the floor for the same copy: one query, pipelined ZADDs into a scratch key.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from scoreboard.domain.models import DEFAULT_BOARD
from scoreboard.redis_store.keys import BoardKeys
from tests.load.baselines import bare_rebuild
from tests.load.report import Report
from tests.load.scenarios.common import Options, pinning
from tests.load.stack import Stack
from tests.load.stats import Progress

TARGETS_S = {100_000: 5.0, 1_000_000: 30.0}


async def insert_users(
    database_url: str, count: int, *, board_id: str = DEFAULT_BOARD, window_id: str = "all"
) -> None:
    connection = await asyncpg.connect(database_url, timeout=30)
    try:
        await connection.execute("TRUNCATE score_events, scores, users CASCADE")
        old = datetime.now(UTC) - timedelta(days=1)
        ids = [uuid.uuid4() for _ in range(count)]
        await connection.copy_records_to_table(
            "users",
            records=((i, f"User {n}", True, old) for n, i in enumerate(ids)),
            columns=["id", "display_name", "is_public", "created_at"],
        )
        await connection.copy_records_to_table(
            "scores",
            records=(
                (board_id, window_id, i, n % 100_000, old + timedelta(microseconds=n), old)
                for n, i in enumerate(ids)
            ),
            columns=["board_id", "window_id", "user_id", "score", "reached_at", "updated_at"],
        )
        await connection.execute("ANALYZE users; ANALYZE scores")
    finally:
        await connection.close()


async def wait_rebuilt(redis: Redis, count: int, timeout_s: float, label: str) -> float | None:
    keys = BoardKeys(DEFAULT_BOARD)
    progress = Progress(label)
    started = time.perf_counter()
    last_show = started
    while time.perf_counter() - started < timeout_s:
        ready, size = await asyncio.gather(redis.exists(keys.ready), redis.zcard(keys.ranking))
        if ready and size == count:
            progress.done()
            return time.perf_counter() - started
        if time.perf_counter() - last_show >= 1:
            progress.show(size, ready=bool(ready))
            last_show = time.perf_counter()
        await asyncio.sleep(0.02)
    progress.done()
    return None


async def run(options: Options) -> Report:
    sizes: list[int] = options.pick(options.rebuild_users, [2_000], [100_000, 1_000_000])
    timeout_s = options.pick(options.duration_s, 30.0, 150.0)
    report = Report("rebuild", "smoke" if options.smoke else "full", {"sizes": sizes, "timeout_s": timeout_s})
    stack = await Stack.start(services=("worker",), split=options.split)
    report.params["cpu_pinning"] = pinning(options, stack.server_pids())
    redis = Redis.from_url(stack.redis_url)
    try:
        if await wait_rebuilt(redis, 0, 30, "rebuild: first (empty) build") is None:
            raise RuntimeError("the worker never built the empty board")
        for size in sizes:
            await insert_users(stack.database_url, size)
            floor_s, copied = await bare_rebuild(
                stack.database_url, stack.redis_url, DEFAULT_BOARD, "bench:floor"
            )
            assert copied == size
            await redis.flushdb()
            took = await wait_rebuilt(redis, size, timeout_s, f"rebuild {size:,} users")
            target = TARGETS_S.get(size)
            report.add(
                f"rebuild {size:,} users",
                took if took is not None else float("nan"),
                "s",
                baseline=floor_s,
                better="lower",
                target=f"< {target:g} s" if target else "",
                met=(took is not None and took < target) if target else None,
            )
            if took is None:
                report.errors += 1
                report.details[f"timeout_{size}"] = stack.log_tail("worker", 30)
    finally:
        await redis.aclose()
        await stack.astop()
    return report
