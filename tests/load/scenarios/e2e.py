"""e2e: signed increments at a target rate while N listeners hold the stream, each with a
realtime token for one of the writing users, so its own user_score_updated events reach it.

user_score_updated carries no commit time in its SSE data, so the latency measured is from the
moment the increment's HTTP 200 arrived at the writer (an upper bound on the commit time: the
commit happened before it) to the receipt of the event with that user's new score.
An acknowledged score that never arrives counts as lost unless a higher score of the same user
arrived after it (the worker announces only the newest state of a user: coalesced).
"""

from __future__ import annotations

import asyncio
import uuid

from scoreboard.security.realtime_tokens import RealtimeTokens
from tests.factories import TICKET_SECRET
from tests.load import gen_sse, gen_write
from tests.load.gen_sse import SseConfig, SseResult
from tests.load.gen_write import WriteConfig, WriteResult
from tests.load.procs import CONNECTED, ERRORS, Generators, wait_until
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, drive, split
from tests.load.scenarios.write import combine
from tests.load.stack import Stack
from tests.load.stats import Histogram, Progress

GRACE_S = 15.0  # a backlog drains before anything is called lost (p99 can be seconds)


async def run(options: Options) -> Report:
    listeners = options.pick(options.clients, 40, 5_000)
    rate = options.pick(options.rate, 40.0, 1_000.0)
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
        },
    )
    users = [str(uuid.uuid4()) for _ in range(listeners)]
    tokens = RealtimeTokens(TICKET_SECRET, ttl_s=60)
    stack = await Stack.start()
    try:
        port = stack.port("gateway")
        paths = [f"/api/realtime/stream?token={tokens.issue(uuid.UUID(u))}" for u in users]
        configs = [
            SseConfig(LOOPBACK, port, list(p), own_users=list(u))
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
            written: list[WriteResult] = await drive(gen_write.run, writers, "e2e: increments", seconds + 90)
            await asyncio.sleep(GRACE_S)
            listening.stop.set()
            heard: list[SseResult] = await asyncio.to_thread(listening.results, 60)
    finally:
        await stack.stop()
    _fill(report, written, heard, seconds)
    return report


def _fill(report: Report, written: list[WriteResult], heard: list[SseResult], seconds: float) -> None:
    writes = combine([w.phases[0] for w in written])
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
    summary = latency.summary()
    increments = writes.increment.summary()
    report.add(
        "increments/s achieved",
        writes.ok / seconds,
        "ops/s",
        target=f"{report.params['offered_increments_per_s']:g}/s offered",
        met=writes.ok / seconds >= 0.95 * report.params["offered_increments_per_s"],
    )
    report.add("listeners connected", sum(p.connected for p in heard), "clients")
    report.add("HTTP 200 -> own event p50", summary["p50_ms"], "ms", better="lower")
    report.add(
        "HTTP 200 -> own event p95",
        summary["p95_ms"],
        "ms",
        better="lower",
        target="<= 150 ms (commit-to-browser)",
        met=summary["p95_ms"] <= 150,
    )
    report.add("HTTP 200 -> own event p99", summary["p99_ms"], "ms", better="lower")
    report.add("increment request p95", increments["p95_ms"], "ms", better="lower")
    events: dict[str, int] = {}
    for part in heard:
        for name, count in part.events.items():
            events[name] = events.get(name, 0) + count
    report.add("events delivered/s (all types)", sum(events.values()) / seconds, "events/s")
    report.errors = writes.errors + sum(p.failed + p.dropped for p in heard)
    report.lost = lost
    report.details = {
        "acknowledged": len(acks),
        "matched": latency.count,
        "coalesced": coalesced,
        "lost": lost,
        "event_before_http_200": early,
        "events_by_type": events,
        "shed": writes.shed,
        "write_statuses": writes.statuses,
        "increment_latency": increments,
        "latency": summary,
        "note": "latency from the HTTP 200 at the writer (an upper bound on the commit) to the SSE receipt",
    }
