"""anomalies: what the anomaly detector costs per increment (ARCHITECTURE.md: Operators).

It adds nothing to the API's path: the worker reads committed increments from score_events, a
page per query. N events of U users are COPYed into PostgreSQL, then measured:
* the watch: one worker's AnomalyWatch ticks until it has read and checked them all (rules that
  never fire, so no quarantine is timed), against the floor of the same reads (the bare page
  query, rows decoded, nothing checked);
* the detector alone, in process (rules only, no I/O), per event, against the bare read of an
  event (a ratio above 1: checking an increment costs less than reading it);
* one population check (the per-second rule) over the users active in a minute.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from scoreboard.db import score_events
from scoreboard.domain.anomalies import Detector, Limits, Population, Rules
from scoreboard.moderation_view import ModerationView
from services.worker.anomalies import PAGE, AnomalyWatch
from services.worker.main import build_context
from services.worker.metrics import WorkerMetrics
from tests.factories import worker_settings
from tests.load.report import Report
from tests.load.scenarios.common import Options, pinning
from tests.load.stack import Stack

WRITE_PEAK = 933  # increments/s the API commits at most here (docs/PERFORMANCE.md, `write`)

# Limits no event reaches: everything is checked, nobody is quarantined.
RULES = Rules(
    overall=Limits(per_minute=10**9, per_hour=10**9),
    types={"quiz": Limits(per_minute=10**9)},
    population=Population(factor=10**6, min_active=2),
)


async def insert_events(database_url: str, events: int, users: int) -> float:
    """`events` increments of `users` users over the last hour; returns their first id - 1."""
    connection = await asyncpg.connect(database_url, timeout=30)
    try:
        ids = [uuid.uuid4() for _ in range(users)]
        await connection.copy_records_to_table(
            "users", records=((i, f"User {n}") for n, i in enumerate(ids)), columns=["id", "display_name"]
        )
        start = await score_events.newest_id(connection)
        rng = random.Random(7)
        now = datetime.now(UTC)
        await connection.copy_records_to_table(
            "score_events",
            records=(
                (
                    "global",
                    ids[rng.randrange(users)],
                    uuid.uuid4(),
                    kind,
                    10 if kind == "quiz" else 1,
                    "h",
                    "default",
                    now - timedelta(seconds=3600 * (events - n) / events),
                )
                for n, kind in enumerate(rng.choice(("quiz", "default", "default")) for _ in range(events))
            ),
            columns=[
                "board_id",
                "user_id",
                "action_id",
                "action_type",
                "delta",
                "request_hash",
                "source",
                "created_at",
            ],
        )
        return float(start)
    finally:
        await connection.close()


async def bare_reads(database_url: str, after_id: int) -> tuple[float, int]:
    """The floor: the same page query, rows decoded into the same objects, nothing else."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        started, read, cursor = time.perf_counter(), 0, after_id
        while batch := await score_events.committed_after(pool, cursor, PAGE):
            read += len(batch)
            cursor = batch[-1].id
        return time.perf_counter() - started, read
    finally:
        await pool.close()


async def watched(database_url: str, redis_url: str, after_id: int, events: int) -> float:
    context = build_context(worker_settings(database_url, redis_url), WorkerMetrics())
    await context.pool
    await context.redis.set("sb:anomaly:cursor", after_id)
    watch = AnomalyWatch(context, RULES, ModerationView(context.pool))
    try:
        started = time.perf_counter()
        while watch._feed is None or watch._feed.after_id < after_id + events:
            await watch.tick()
        return time.perf_counter() - started
    finally:
        await watch.stop()
        await context.redis.aclose()
        await context.pool.close()


def detector_alone(events: int, users: int) -> tuple[float, float, int]:
    """(seconds for `events` observations, for one population check, users active then)."""
    rng = random.Random(11)
    feed = [
        (f"u{rng.randrange(users)}", rng.choice(("quiz", "default")), n * 3600 / events)
        for n in range(events)
    ]
    detector = Detector(RULES)
    started = time.perf_counter()
    for user, kind, at in feed:
        detector.observe(user, kind, 10 if kind == "quiz" else 1, at)
    observed = time.perf_counter() - started
    # Everyone active within the last minute: the population check's worst case.
    now = feed[-1][2]
    for index in range(users):
        detector.observe(f"u{index}", "default", 1, now)
    started = time.perf_counter()
    detector.population(now)
    return observed, time.perf_counter() - started, users


async def run(options: Options) -> Report:
    events: int = options.pick(options.users and options.users * 20, 20_000, 500_000)
    users = max(events // 20, 10)
    report = Report("anomalies", "smoke" if options.smoke else "full", {"events": events, "users": users})
    stack = await Stack.start(services=(), split=options.split)
    report.params["cpu_pinning"] = pinning(options, stack.server_pids())
    try:
        after_id = int(await insert_events(stack.database_url, events, users))
        floor_s, read = await bare_reads(stack.database_url, after_id)
        if read != events:
            report.lost += abs(events - read)
        took_s = await watched(stack.database_url, stack.redis_url, after_id, events)
        report.add(
            "watch: increments read and checked",
            events / took_s,
            "per s",
            baseline=read / floor_s,
            target=f"> {WRITE_PEAK * 10:,}/s (10x the write peak)",
            met=events / took_s > WRITE_PEAK * 10,
        )
        report.add("watch: cost per increment", took_s / events * 1e6, "us", better="lower")
        observed_s, population_s, active = detector_alone(events, users)
        report.add(
            "detector alone: cost per increment",
            observed_s / events * 1e6,
            "us",
            baseline=floor_s / read * 1e6,  # reading that increment from PostgreSQL, bare
            better="lower",
        )
        report.add(f"population check, {active:,} active users", population_s * 1000, "ms", better="lower")
    finally:
        await stack.astop()
    return report
