"""write: signed increments, closed loop (max rate) then an open-loop sweep of offered rates,
against a bare asyncpg loop running the same transaction (same pool size, same concurrency)."""

from __future__ import annotations

import uuid

from tests.load import gen_write
from tests.load.baselines import AsyncpgLoopConfig, asyncpg_loop
from tests.load.gen_write import PhaseResult, WriteConfig, WriteResult
from tests.load.report import Report
from tests.load.scenarios.common import LOOPBACK, Options, drive, pinning, split
from tests.load.stack import Stack, tree_cpu_seconds

API_POOL_SIZE = 10  # SCOREBOARD_DB_POOL_MAX's default, which the API runs with here
SWEEP = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)


def combine(parts: list[PhaseResult]) -> PhaseResult:
    total = PhaseResult(sum(p.offered_per_s for p in parts), max(p.seconds for p in parts))
    for part in parts:
        total.ok += part.ok
        total.errors += part.errors
        total.shed += part.shed
        total.increment.merge(part.increment)
        total.action.merge(part.action)
        for status, count in part.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return total


async def run(options: Options) -> Report:
    duration = options.pick(options.duration_s, 1.0, 20.0)
    step_s = options.pick(options.duration_s, 1.0, 10.0)
    concurrency = options.pick(options.concurrency, 8, 64)
    processes = options.pick(options.generators, 2, 2)
    users = [(str(uuid.uuid4()), f"Bench {i}") for i in range(options.pick(options.users, 50, 2000))]
    sweep = (0.5,) if options.smoke else SWEEP
    per_process = max(1, concurrency // processes)
    report = Report(
        "write",
        "smoke" if options.smoke else "full",
        {
            "duration_s": duration,
            "sweep_step_s": step_s,
            "concurrency": per_process * processes,
            "generator_processes": processes,
            "users": len(users),
            "db_pool_size": API_POOL_SIZE,
            "sweep_fractions_of_max": list(sweep),
        },
    )
    report.params["api_processes"] = options.api_processes
    stack = await Stack.start(split=options.split, replicas=options.replicas)
    report.params["cpu_pinning"] = pinning(options, stack.server_pids())
    try:
        base = combine(
            await drive(
                asyncpg_loop,
                # One process with one pool of the API's size, as the API is one process with one pool.
                [AsyncpgLoopConfig(stack.database_url, API_POOL_SIZE, per_process * processes, duration)],
                "write baseline: bare asyncpg",
                duration + 60,
            )
        )

        def configs(**extra: object) -> list[WriteConfig]:
            return [
                WriteConfig(LOOPBACK, stack.port("api"), part, per_process, seed=i, **extra)  # type: ignore[arg-type]
                for i, part in enumerate(split(users, processes))
            ]

        pids = stack.server_pids()
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        closed_results: list[WriteResult] = await drive(
            gen_write.run, configs(duration_s=duration), "write api: closed loop", duration + 60
        )
        closed = combine([r.phases[0] for r in closed_results])
        # Over the whole phase, the generators' start included (the servers are idle then).
        server_cpu_s = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        max_rate = closed.ok / closed.seconds
        phases = [(max(1.0, max_rate * f / processes), step_s) for f in sweep]
        swept: list[WriteResult] = await drive(
            gen_write.run, configs(phases=phases), "write api: open-loop sweep", step_s * len(sweep) + 90
        )
        points = [combine([r.phases[i] for r in swept]) for i in range(len(sweep))]
    finally:
        await stack.astop()
    _fill(report, base, closed, points, sweep)
    _fill_cpu(report, closed, server_cpu_s)
    return report


def _fill(
    report: Report,
    base: PhaseResult,
    closed: PhaseResult,
    points: list[PhaseResult],
    sweep: tuple[float, ...],
) -> None:
    base_rate = base.ok / base.seconds
    max_rate = closed.ok / closed.seconds
    bs, cs = base.increment.summary(), closed.increment.summary()
    report.add(
        "max increments/s (closed loop)",
        max_rate,
        "ops/s",
        baseline=base_rate,
        target=">= 0.5x bare asyncpg (stretch 2x)",
        met=max_rate >= 0.5 * base_rate,
    )
    report.add("increment p50 (closed loop)", cs["p50_ms"], "ms", baseline=bs["p50_ms"], better="lower")
    report.add("increment p99 (closed loop)", cs["p99_ms"], "ms", baseline=bs["p99_ms"], better="lower")
    report.add("ticket+increment p99 (closed loop)", closed.action.summary()["p99_ms"], "ms", better="lower")
    series = []
    for fraction, point in zip(sweep, points, strict=True):
        summary = point.increment.summary()
        series.append(
            {
                "fraction_of_max": fraction,
                "offered_per_s": point.offered_per_s,
                "achieved_per_s": point.ok / point.seconds,
                "p50_ms": summary["p50_ms"],
                "p99_ms": summary["p99_ms"],
                "action_p99_ms": point.action.summary()["p99_ms"],
                "errors": point.errors,
                "shed": point.shed,
            }
        )
    at80 = next((s for s in series if s["fraction_of_max"] == 0.8), None)
    if at80:
        report.add(
            "increment p99 at 80% of max (open loop)",
            at80["p99_ms"],
            "ms",
            better="lower",
            baseline=bs["p99_ms"],
            target="<= 25 ms",
            met=at80["p99_ms"] <= 25,
        )
        report.add("ticket+increment p99 at 80% (from schedule)", at80["action_p99_ms"], "ms", better="lower")
    report.series = {"sweep": series, "baseline_p50_ms": bs["p50_ms"], "baseline_p99_ms": bs["p99_ms"]}
    report.errors = base.errors + closed.errors + sum(p.errors for p in points)
    report.details = {
        "baseline": {"ok": base.ok, "seconds": base.seconds, **bs, "statuses": base.statuses},
        "closed_loop": {"ok": closed.ok, "seconds": closed.seconds, **cs, "statuses": closed.statuses},
        "sweep_statuses": [p.statuses for p in points],
        "shed": sum(p.shed for p in points),
        "note": "shed = open-loop operations not started because 512 per process were already in flight",
    }


def _fill_cpu(report: Report, closed: PhaseResult, server_cpu_s: dict[str, float]) -> None:
    """What the servers spent (utime + stime from /proc, children included) over the closed loop:
    the API processes (`api`, `api-2`...) apart, and every server per increment."""
    api_cpu_s = sum(cpu for name, cpu in server_cpu_s.items() if name == "api" or name.startswith("api-"))
    if not closed.ok or api_cpu_s <= 0:
        return
    per_increment_us = {name: cpu / closed.ok * 1e6 for name, cpu in server_cpu_s.items()}
    report.add(
        "API CPU per increment, ticket included (closed loop)",
        api_cpu_s / closed.ok * 1e6,
        "us",
        better="lower",
    )
    report.add("increments per API CPU-second (closed loop)", closed.ok / api_cpu_s, "ops/cpu-s")
    report.add("API CPU used (closed loop)", api_cpu_s / closed.seconds * 100, "% of a core", better="lower")
    report.add(
        "all servers' CPU per increment (closed loop)", sum(per_increment_us.values()), "us", better="lower"
    )
    report.details["api_cpu_s"] = api_cpu_s
    report.details["server_cpu_us_per_increment"] = per_increment_us
