"""python -m tests.load <scenario> [options]: start the stack, run a scenario, report it.

Prints a table, writes <out>/<scenario>.json and <out>/<scenario>.png (tests/load/results/ by
default). Exits 1 when a request failed or an event was lost, never because of a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path

from tests.load.cpus import pin_clients
from tests.load.procs import raise_open_files_limit
from tests.load.report import RESULTS_DIR, Report, table, write
from tests.load.scenarios.common import Options

SCENARIOS = ("write", "read", "fanout", "e2e", "rebuild", "boards", "fastpath", "writepath", "anomalies")


def parse(argv: list[str]) -> tuple[list[str], Options]:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__)
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small N (what CI runs)")
    parser.add_argument("--duration", type=float, help="seconds per measured phase")
    parser.add_argument("--concurrency", type=int, help="write/read: connections in flight")
    parser.add_argument("--users", type=int, help="write: distinct users; anomalies: users (20 events each)")
    parser.add_argument("--generators", type=int, help="load generator processes")
    parser.add_argument("--rate", type=float, help="e2e: increments/s offered")
    parser.add_argument("--clients", type=int, help="fanout: SSE clients; e2e: listeners")
    parser.add_argument("--events-per-s", type=float, help="fanout: leaderboard events/s injected")
    parser.add_argument("--rebuild-users", type=int, nargs="+", default=[], help="rebuild: board sizes")
    parser.add_argument("--api-processes", type=int, default=1, help="API processes on one port")
    parser.add_argument("--gateway-processes", type=int, default=1, help="gateway processes on one port")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let clients and servers share every core (default: clients on the first, servers on the rest)",
    )
    args = parser.parse_args(argv)
    options = Options(
        smoke=args.smoke,
        duration_s=args.duration,
        concurrency=args.concurrency,
        users=args.users,
        generators=args.generators,
        rate=args.rate,
        clients=args.clients,
        events_per_s=args.events_per_s,
        rebuild_users=args.rebuild_users,
        out=args.out,
        split=pin_clients(not args.no_pin),
        api_processes=args.api_processes,
        gateway_processes=args.gateway_processes,
    )
    return list(SCENARIOS) if args.scenario == "all" else [args.scenario], options


async def run_one(name: str, options: Options) -> Report:
    module = importlib.import_module(f"tests.load.scenarios.{name}")
    report: Report = await module.run(options)
    return report


def main(argv: list[str] | None = None) -> int:
    scenarios, options = parse(sys.argv[1:] if argv is None else argv)
    limit = raise_open_files_limit()  # inherited by the services and the generators
    print(f"open files limit: {limit}", file=sys.stderr)
    where = options.split.describe() if options.split else "not pinned (fewer than 2 cores, or --no-pin)"
    print(f"cores: {where}", file=sys.stderr)
    failed = False
    for name in scenarios:
        report = asyncio.run(run_one(name, options))
        json_path, png_path = write(report, options.out)
        print(table(report))
        print(f"written: {json_path}" + (f", {png_path}" if png_path else " (no PNG: matplotlib missing)"))
        failed |= report.errors > 0 or report.lost > 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
