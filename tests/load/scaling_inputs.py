"""The inputs of docs/scaling.md that the benchmarks do not report, counted off a real stack.

    python -m tests.load.scaling_inputs [--seconds S] [--concurrency C] [--users N]

One closed-loop write phase (tickets and signed increments, as `write` plays them) against the
real api, worker and gateway with no SSE listener, then, per committed increment: the commands
Redis executed (INFO commandstats: commands a Lua script calls are counted too), PostgreSQL's
transactions, WAL bytes and WAL syncs (pg_stat_database, pg_stat_wal), the gateway's CPU (with
no listener, what reading the stream costs it), and the bytes one event row and one user on a
board take (pg_total_relation_size, MEMORY USAGE). Then a gateway alone, with no listener,
reading owners' events appended at `--stream-rates` entries/s: its CPU per entry. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
from redis.asyncio import Redis

from scoreboard.domain.events import user_score_updated
from scoreboard.redis_store import events
from scoreboard.redis_store.keys import EVENT_STREAM, PROFILES, RATE_LIMIT_PREFIX, BoardKeys
from tests.load import gen_write
from tests.load.gen_write import WriteConfig
from tests.load.scenarios.common import LOOPBACK, drive, split
from tests.load.stack import Stack, cpu_seconds, rss_kb, tree_cpu_seconds

PG_COUNTERS = """
SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
       (SELECT wal_bytes FROM pg_stat_wal), (SELECT wal_sync FROM pg_stat_wal)
"""


async def _redis_calls(redis: Redis) -> dict[str, int]:
    stats: dict[str, Any] = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def _pg_counters(database_url: str) -> tuple[int, int, int]:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        commits, wal_bytes, wal_syncs = await connection.fetchrow(PG_COUNTERS)
        return int(commits), int(wal_bytes), int(wal_syncs)
    finally:
        await connection.close()


async def _sizes(database_url: str, redis: Redis) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("VACUUM ANALYZE score_events, scores")
        events, event_bytes = await connection.fetchrow(
            "SELECT count(*), pg_total_relation_size('score_events') FROM score_events"
        )
        scores, score_bytes = await connection.fetchrow(
            "SELECT count(*), pg_total_relation_size('scores') FROM scores"
        )
    finally:
        await connection.close()
    keys = BoardKeys("global")
    users = await redis.zcard(keys.ranking)
    board_bytes = 0
    for key in (keys.ranking, keys.members, keys.versions, keys.emitted):
        board_bytes += await redis.memory_usage(key, samples=0) or 0
    profile_bytes = await redis.memory_usage(PROFILES, samples=0) or 0
    limiter_bytes = 0
    async for key in redis.scan_iter(match=f"{RATE_LIMIT_PREFIX}*", count=1_000):
        limiter_bytes += await redis.memory_usage(key, samples=0) or 0
    stream_bytes = await redis.memory_usage(EVENT_STREAM, samples=0) or 0
    stream_entries = await redis.xlen(EVENT_STREAM)
    return {
        "postgres_bytes_per_event_row": round(event_bytes / max(events, 1)),
        "postgres_bytes_per_score_row": round(score_bytes / max(scores, 1)),
        "redis_board_bytes_per_user": round(board_bytes / max(users, 1)),
        "redis_profile_bytes_per_user": round(profile_bytes / max(users, 1)),
        "redis_rate_limit_bytes": limiter_bytes,
        "redis_stream_bytes_per_entry": round(stream_bytes / max(stream_entries, 1)),
        "users_on_board": users,
    }


async def measure(seconds: float, concurrency: int, users: int) -> dict[str, Any]:
    stack = await Stack.start()
    redis = Redis.from_url(stack.redis_url)
    try:
        pids = stack.server_pids()
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        gateway_before = cpu_seconds(pids["gateway"])
        calls_before = await _redis_calls(redis)
        pg_before = await _pg_counters(stack.database_url)
        players = [(str(uuid.uuid4()), f"Scale {i}") for i in range(users)]
        configs = [
            WriteConfig(LOOPBACK, stack.port("api"), part, max(1, concurrency // 2), seconds, seed=i)
            for i, part in enumerate(split(players, 2))
        ]
        results = await drive(gen_write.run, configs, "scaling inputs", seconds + 60)
        await asyncio.sleep(2.0)  # the worker's jobs for this load are part of its cost
        done = sum(result.phases[0].ok for result in results)
        gateway_ms = (cpu_seconds(pids["gateway"]) - gateway_before) * 1000
        cpu_ms = {name: (tree_cpu_seconds(pid) - cpu_before[name]) * 1000 for name, pid in pids.items()}
        calls_after = await _redis_calls(redis)
        pg_after = await _pg_counters(stack.database_url)
        sizes = await _sizes(stack.database_url, redis)
    finally:
        await redis.aclose()
        await stack.astop()
    calls = {
        name: round((count - calls_before.get(name, 0)) / done, 2)
        for name, count in sorted(calls_after.items())
        if count - calls_before.get(name, 0) >= done / 100
    }
    limiter_bytes = sizes.pop("redis_rate_limit_bytes")  # every request of the run is in its 60 s window
    commits, wal_bytes, wal_syncs = (end - start for end, start in zip(pg_after, pg_before, strict=True))
    return {
        "increments": done,
        "increments_per_s": round(done / max(r.phases[0].seconds for r in results), 1),
        "redis_commands_per_increment": calls,
        "redis_commands_per_increment_total": round(sum(calls.values()), 1),
        "postgres_commits_per_increment": round(commits / done, 3),
        "postgres_wal_bytes_per_increment": round(wal_bytes / done),
        "postgres_wal_syncs_per_increment": round(wal_syncs / done, 3),
        "gateway_cpu_ms_per_increment_no_listener": round(gateway_ms / done, 3),
        "server_cpu_ms_per_increment": {name: round(ms / done, 3) for name, ms in cpu_ms.items()},
        **sizes,
        "redis_rate_limit_bytes_per_increment": round(limiter_bytes / done),
    }


async def gateway_read_cost(rate: int, seconds: float) -> dict[str, float]:
    """Gateway CPU microseconds per owner event read off the stream, with no listener to send to,
    and the gateway's RSS before it reads any."""
    stack = await Stack.start(services=("gateway",))
    redis = Redis.from_url(stack.redis_url)
    batch = max(1, rate // 100)  # every 10 ms, as a group of workers would append them
    entries = [
        {
            "payload": user_score_updated("global", "all", user, 1, 1),
            "user_id": str(user),
            "public": False,
            "committed_us": 0,
        }
        for user in (uuid.uuid4() for _ in range(batch))
    ]
    try:
        pid = stack.pid("gateway")
        idle_rss_kb = rss_kb(pid)
        before, started = cpu_seconds(pid), time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            await events.append_many(redis, entries, maxlen=10_000)
            sent += batch
            await asyncio.sleep(max(0.0, sent / rate - elapsed))
        achieved = sent / (time.perf_counter() - started)
        await asyncio.sleep(1.0)
        used = cpu_seconds(pid) - before
    finally:
        await redis.aclose()
        await stack.astop()
    return {
        "entries_per_s": round(achieved),
        "cpu_us_per_entry": round(used / sent * 1e6, 1),
        "gateway_rss_kb_without_connections": idle_rss_kb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.load.scaling_inputs")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--stream-rates", type=int, nargs="*", default=[1_000, 10_000])
    args = parser.parse_args()
    found = asyncio.run(measure(args.seconds, args.concurrency, args.users))
    found["gateway_cpu_us_per_stream_entry_no_listener"] = {
        str(rate): asyncio.run(gateway_read_cost(rate, args.seconds)) for rate in args.stream_rates
    }
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
