"""e2e: signed increments at a target rate while N listeners hold the stream, each with a
realtime token for one of the writing users: its own user_score_updated reach it at once, and
every listener gets the Top 10 as state, paced (ARCHITECTURE.md: Events).

Own events: user_score_updated carries no commit time in its SSE data, so the latency measured is
from the moment the increment's HTTP 200 arrived at the writer (an upper bound on the commit
time: the commit happened before it) to the receipt of the event with that user's new score.
An acknowledged score that never arrives counts as lost unless a higher score of the same user
arrived after it (the worker announces only the newest state of a user: coalesced).

Top 10 lag: the worker appended Top 10 version v at P(v) (its stream id, Redis's clock); a
listener holds it from R(v), the first receipt of a version >= v. R(v) - P(v), over every
listener and every version appended while it listened, is how far its newest Top 10 lagged the
truth. The stream is kept long enough (STREAM_MAXLEN) to read every P(v) back afterwards.

Server cost: CPU seconds of every server process (and PostgreSQL's backends) over the phase,
from /proc, per delivery (every event the listeners received) and per increment.
"""

from __future__ import annotations

import asyncio
import bisect
import time
import uuid
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis

from scoreboard.redis_store.keys import EVENT_STREAM
from scoreboard.security.realtime_tokens import RealtimeTokens
from tests.factories import TICKET_SECRET
from tests.load import gen_sse, gen_write
from tests.load.gen_sse import SseConfig, SseResult
from tests.load.gen_write import WriteConfig, WriteResult
from tests.load.procs import CONNECTED, DONE, ERRORS, Generators, wait_until
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, drive, pinning, sample_gauge, split
from tests.load.scenarios.write import combine
from tests.load.stack import Stack, tree_cpu_seconds
from tests.load.stats import Histogram, Progress

GRACE_S = 15.0  # at most this long for a backlog to drain before anything is called lost
STATE_INTERVAL_MS = 250  # the gateway's default, stated explicitly: the lag target depends on it
STREAM_EVENTS = "1000000"  # STREAM_MAXLEN for the run: every Top 10 stays readable for the lag
INTERVAL_GAUGE = "scoreboard_sse_state_interval_seconds"


@dataclass
class Observed:
    """What the harness saw of the servers while the writers ran."""

    cpu_s: dict[str, float] = field(default_factory=dict)  # per server, over the write phase
    cpu_with_drain_s: dict[str, float] = field(default_factory=dict)  # until deliveries stopped
    intervals_s: list[float] = field(default_factory=list)  # the gateway's interval in force, sampled
    published: list[tuple[int, float]] = field(default_factory=list)  # (Top 10 version, append time)
    listened_from: float = 0.0
    listened_to: float = 0.0
    write_phase_s: float = 0.0  # wall time the writers ran (their last requests can overrun `seconds`)


async def run(options: Options) -> Report:
    listeners = options.pick(options.clients, 40, 5_000)
    rate = options.pick(options.rate, 40.0, 300.0)
    seconds = options.pick(options.duration_s, 2.0, 30.0)
    processes = options.pick(options.generators, 2, 2)
    report = Report(
        "e2e",
        "smoke" if options.smoke else "full",
        {
            "listeners": listeners,
            "offered_increments_per_s": rate,
            "seconds": seconds,
            "generator_processes": processes,
            "state_interval_ms": STATE_INTERVAL_MS,
        },
    )
    users = [str(uuid.uuid4()) for _ in range(listeners)]
    tokens = RealtimeTokens(TICKET_SECRET, ttl_s=60)
    env = {
        "SCOREBOARD_SSE_STATE_INTERVAL_MS": str(STATE_INTERVAL_MS),
        "SCOREBOARD_STREAM_MAXLEN": STREAM_EVENTS,
    }
    stack = await Stack.start(extra_env=env, split=options.split, replicas=options.replicas)
    observed = Observed()
    try:
        pids = stack.server_pids()
        report.params["cpu_pinning"] = pinning(options, pids)
        port = stack.port("gateway")
        paths = [f"/api/realtime/stream?token={tokens.issue(uuid.UUID(u))}" for u in users]
        configs = [
            SseConfig(LOOPBACK, port, list(p), own_users=list(u), record_tops=True)
            for p, u in zip(split(paths, processes), split(users, processes), strict=True)
        ]
        with Generators(gen_sse.run, configs) as listening:
            listening.go.set()
            progress = Progress("e2e: connecting listeners")
            await wait_until(
                lambda: listening.total(CONNECTED) + listening.total(ERRORS) >= listeners,
                timeout_s=180,
                tick=lambda: progress.show(listening.total(CONNECTED), failed=listening.total(ERRORS)),
            )
            progress.done()
            writers = [
                WriteConfig(
                    LOOPBACK,
                    stack.port("api"),
                    [(u, f"E2E {u[:4]}") for u in part],
                    64 // processes,
                    phases=[(rate / processes, seconds)],
                    record_acks=True,
                    seed=i,
                )
                for i, part in enumerate(split(users, processes))
            ]
            observed.listened_from = time.time()
            cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
            sampling = asyncio.ensure_future(
                sample_gauge(stack.services["gateway"].url, INTERVAL_GAUGE, observed.intervals_s)
            )
            try:
                written: list[WriteResult] = await drive(
                    gen_write.run, writers, "e2e: increments", seconds + 90
                )
            finally:
                sampling.cancel()
            observed.cpu_s = _spent(pids, cpu_before)
            observed.write_phase_s = time.time() - observed.listened_from
            await _settle(listening)
            observed.cpu_with_drain_s = _spent(pids, cpu_before)
            observed.listened_to = time.time()
            listening.stop.set()
            heard: list[SseResult] = await asyncio.to_thread(listening.results, 120)
        observed.published = await _published_tops(stack.redis_url)
    finally:
        await stack.astop()
    _fill(report, written, heard, seconds, observed)
    return report


def _spent(pids: dict[str, int], before: dict[str, float]) -> dict[str, float]:
    return {name: tree_cpu_seconds(pid) - before[name] for name, pid in pids.items()}


async def _settle(listening: Generators) -> None:
    """Wait until deliveries stop (a backlog keeps arriving after the last write), GRACE_S at most."""
    deadline = time.monotonic() + GRACE_S
    last = -1
    while time.monotonic() < deadline and (now := listening.total(DONE)) != last:
        last = now
        await asyncio.sleep(2.0)


async def _published_tops(redis_url: str) -> list[tuple[int, float]]:
    """Every leaderboard_updated on the stream: (version, append time from its id), in order."""
    redis = Redis.from_url(redis_url)
    published: list[tuple[int, float]] = []
    try:
        last = "-"
        while True:
            entries = await redis.xrange(EVENT_STREAM, min=last, max="+", count=10_000)
            if last != "-":
                entries = entries[1:]  # the first is the one we ended on
            if not entries:
                return published
            for entry_id, fields in entries:
                if fields.get(b"type") == b"leaderboard_updated":
                    version = int(orjson.loads(fields[b"data"])["version"])
                    published.append((version, int(entry_id.split(b"-")[0]) / 1000))
            last = entries[-1][0].decode()
    finally:
        await redis.aclose()


def top_lag(
    published: list[tuple[int, float]], heard: list[SseResult], since: float
) -> tuple[Histogram, int]:
    """How long each Top 10 version appended after `since` took to be held by each listener,
    and how many (listener, version) pairs never were."""
    wanted = [(version, at) for version, at in published if at >= since]
    lag, missed = Histogram(), 0
    for part in heard:
        for receipts in part.top_receipts:
            versions = [version for version, _ in receipts]
            for version, appended in wanted:
                index = bisect.bisect_left(versions, version)  # the first receipt holding it
                if index == len(versions):
                    missed += 1
                else:
                    lag.record(max(0.0, receipts[index][1] - appended))
    return lag, missed


def _fill(
    report: Report, written: list[WriteResult], heard: list[SseResult], seconds: float, observed: Observed
) -> None:
    writes = combine([w.phases[0] for w in written])
    latency, coalesced, lost, early = _own_events(written, heard)
    summary = latency.summary()
    increments = writes.increment.summary()
    listeners = report.params["listeners"]
    own_p95_target_ms = 1000 if listeners >= 10_000 else 250
    report.add(
        "increments/s achieved",
        writes.ok / seconds,
        "ops/s",
        target=f"{report.params['offered_increments_per_s']:g}/s offered",
        met=writes.ok / seconds >= 0.95 * report.params["offered_increments_per_s"],
    )
    report.add("listeners connected", sum(p.connected for p in heard), "clients")
    report.add("HTTP 200 -> own event p50", summary["p50_ms"], "ms", better="lower")
    report.add_at_most("HTTP 200 -> own event p95", summary["p95_ms"], "ms", own_p95_target_ms)
    own_p99_target_ms = 1000 if listeners < 10_000 else None
    report.add_at_most("HTTP 200 -> own event p99", summary["p99_ms"], "ms", own_p99_target_ms)
    report.add("own events lost", lost, "events", better="lower", target="0", met=lost == 0)
    lag, never = top_lag(observed.published, heard, observed.listened_from)
    lag_summary = lag.summary()
    report.add("Top 10 lag behind the truth p50", lag_summary["p50_ms"], "ms", better="lower")
    report.add_at_most(
        "Top 10 lag behind the truth p99",
        lag_summary["p99_ms"],
        "ms",
        STATE_INTERVAL_MS + 250,
        why="interval + 250",
    )
    intervals = observed.intervals_s or [STATE_INTERVAL_MS / 1000]
    report.add("state interval in force, max", max(intervals) * 1000, "ms", better="lower")
    report.add("increment request p95", increments["p95_ms"], "ms", better="lower")
    events: dict[str, int] = {}
    for part in heard:
        for name, count in part.events.items():
            events[name] = events.get(name, 0) + count
    deliveries = sum(events.values())
    report.add("events delivered/s (all types)", deliveries / seconds, "events/s")
    gateway_cpu = observed.cpu_with_drain_s.get("gateway", 0.0)
    report.add("gateway CPU per delivery", gateway_cpu / max(deliveries, 1) * 1e6, "us", better="lower")
    phase_s = observed.write_phase_s or seconds
    gateway_share = observed.cpu_s.get("gateway", 0.0) / phase_s * 100
    report.add("gateway CPU", gateway_share, "% of a core", better="lower")
    servers_cpu = sum(observed.cpu_s.values())
    report.add("all servers CPU", servers_cpu / phase_s * 100, "% of a core", better="lower")
    report.add("server CPU per increment", servers_cpu / max(writes.ok, 1) * 1000, "ms", better="lower")
    report.errors = writes.errors + sum(p.failed + p.dropped for p in heard)
    report.lost = lost + sum(p.out_of_order for p in heard) + never  # a listener must hold the last Top 10
    report.details = {
        "acknowledged": latency.count + coalesced + lost,
        "matched": latency.count,
        "coalesced": coalesced,
        "lost": lost,
        "event_before_http_200": early,
        "top10_out_of_order": sum(p.out_of_order for p in heard),
        "top10_versions_appended": len(observed.published),
        "top10_never_held": never,
        "top10_lag": lag_summary,
        "events_by_type": events,
        "server_cpu_s_during_writes": observed.cpu_s,
        "write_phase_s": observed.write_phase_s,
        "server_cpu_s_until_drained": observed.cpu_with_drain_s,
        "state_interval_samples_s": observed.intervals_s,
        "shed": writes.shed,
        "write_statuses": writes.statuses,
        "increment_latency": increments,
        "latency": summary,
        "note": "latency from the HTTP 200 at the writer (an upper bound on the commit) to the SSE receipt",
    }


def _own_events(written: list[WriteResult], heard: list[SseResult]) -> tuple[Histogram, int, int, int]:
    acks = [ack for w in written for ack in w.acks]
    receipts: dict[tuple[str, int], float] = {}
    best: dict[str, int] = {}
    for part in heard:
        for user, score, at in part.receipts:
            receipts.setdefault((user, score), at)
            best[user] = max(best.get(user, 0), score)
    latency, coalesced, lost, early = Histogram(), 0, 0, 0
    for user, score, acked_at in acks:
        received = receipts.get((user, score))
        if received is not None:
            early += received < acked_at
            latency.record(max(0.0, received - acked_at))
        elif best.get(user, 0) > score:
            coalesced += 1
        else:
            lost += 1
    return latency, coalesced, lost, early
