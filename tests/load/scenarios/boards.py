"""boards: what counting on several boards costs, and a rebuild of a windowed board.

1. The same closed-loop write load against a stack with one board (`global`) and then one with
   three (`global`, a daily and a weekly board: every increment counts on all three), in one
   run; compared by server CPU per increment (the API, the worker, PostgreSQL and Redis
   together) and by the API's alone. Target: three boards cost at most 1.3 times one.
2. A daily board's current window loses its Redis copy while PostgreSQL holds K users in it:
   time until the worker has rebuilt it (target for 1M users: under 30 s).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis

from scoreboard.domain.windows import WindowRule
from scoreboard.redis_store.keys import BoardKeys
from tests.load import gen_write
from tests.load.gen_write import WriteConfig, WriteResult
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, drive, pinning, split
from tests.load.scenarios.rebuild import insert_users
from tests.load.stack import Stack, cpu_seconds, tree_cpu_seconds

ONE_BOARD = {"global": {}}
THREE_BOARDS = {"global": {}, "daily": {"window": "day", "tz": "Europe/Paris"}, "weekly": {"window": "week"}}
WINDOWED = {"global": {}, "daily": {"window": "day"}}
REBUILD_TARGET_S = {1_000_000: 30.0}


async def _write_cost(
    options: Options, boards: dict[str, object], label: str, per_process: dict[str, float]
) -> tuple[float, float, float]:
    """(increments/s, server CPU ms per increment, API CPU ms per increment) of a closed loop;
    `per_process` receives each server's CPU ms per increment."""
    duration = options.pick(options.duration_s, 1.0, 15.0)
    concurrency = options.pick(options.concurrency, 8, 64)
    processes = options.pick(options.generators, 2, 2)
    users = [(str(uuid.uuid4()), f"Bench {i}") for i in range(options.pick(options.users, 50, 2000))]
    stack = await Stack.start(extra_env={"SCOREBOARD_BOARDS": json.dumps(boards)}, split=options.split)
    try:
        pids = stack.server_pids()
        before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        before_all = sum(before.values())
        before_api = cpu_seconds(pids["api"])
        configs = [
            WriteConfig(LOOPBACK, stack.port("api"), part, max(1, concurrency // processes), duration, seed=i)
            for i, part in enumerate(split(users, processes))
        ]
        results: list[WriteResult] = await drive(gen_write.run, configs, label, duration + 60)
        await asyncio.sleep(
            1.0
        )  # let the worker finish the jobs this load enqueued: they are part of its cost
        after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        used_all = sum(after.values()) - before_all
        used_api = cpu_seconds(pids["api"]) - before_api
    finally:
        await stack.astop()
    done = sum(r.phases[0].ok for r in results)
    seconds = max(r.phases[0].seconds for r in results)
    per_process.update({name: round((after[name] - before[name]) / done * 1000, 3) for name in pids})
    return done / seconds, used_all / done * 1000, used_api / done * 1000


async def _windowed_rebuild(options: Options, report: Report) -> None:
    sizes: list[int] = options.pick(options.rebuild_users, [2_000], [1_000_000])
    window = WindowRule("day").at(datetime.now(UTC)).id
    stack = await Stack.start(
        services=("worker",), extra_env={"SCOREBOARD_BOARDS": json.dumps(WINDOWED)}, split=options.split
    )
    redis = Redis.from_url(stack.redis_url)
    keys = BoardKeys("daily", window)
    try:
        for size in sizes:
            await insert_users(stack.database_url, size, board_id="daily", window_id=window)
            await redis.flushdb()
            started = time.perf_counter()
            took = None
            while time.perf_counter() - started < options.pick(options.duration_s, 60.0, 150.0):
                if await redis.exists(keys.ready) and await redis.zcard(keys.ranking) == size:
                    took = time.perf_counter() - started
                    break
                await asyncio.sleep(0.05)
            target = REBUILD_TARGET_S.get(size)
            report.add(
                f"rebuild {size:,} users of a daily board's window",
                took if took is not None else float("nan"),
                "s",
                better="lower",
                target=f"< {target:g} s" if target else "",
                met=(took is not None and took < target) if target else None,
            )
            if took is None:
                report.errors += 1
    finally:
        await redis.aclose()
        await stack.astop()


async def run(options: Options) -> Report:
    report = Report("boards", "smoke" if options.smoke else "full", {"three_boards": THREE_BOARDS})
    one: dict[str, float] = {}
    three: dict[str, float] = {}
    rate1, all1, api1 = await _write_cost(options, ONE_BOARD, "boards: writes counted on 1 board", one)
    rate3, all3, api3 = await _write_cost(options, THREE_BOARDS, "boards: writes counted on 3 boards", three)
    report.details["cpu_ms_per_increment"] = {"one_board": one, "three_boards": three}
    report.params["cpu_pinning"] = pinning(options, {})
    report.add("increments/s, 3 boards (baseline: 1 board)", rate3, "/s", baseline=rate1)
    report.add(
        "server CPU per increment, 3 boards (baseline: 1 board)",
        all3,
        "ms",
        baseline=all1,
        better="lower",
        target="<= 1.3x one board",
        met=all3 <= 1.3 * all1,
    )
    report.add(
        "API CPU per increment, 3 boards (baseline: 1 board)", api3, "ms", baseline=api1, better="lower"
    )
    await _windowed_rebuild(options, report)
    return report
