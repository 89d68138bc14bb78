"""The `scoreboard` command: start a service, migrate, mint a dev token, run the dev stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from services.cli import commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scoreboard", description="Realtime leaderboard backend")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, port, help_text in (
        ("api", 8000, "run the write/read API (uvicorn)"),
        ("gateway", 8001, "run the SSE gateway (uvicorn)"),
        ("worker", 8002, "run the arq worker (with /healthz and /metrics on --port)"),
    ):
        service = sub.add_parser(name, help=help_text)
        service.add_argument("--host", default="127.0.0.1")
        service.add_argument("--port", type=int, default=port)
        if name != "worker":
            service.add_argument(
                "--reuse-port",
                action="store_true",
                help="share the port with other processes started the same way (SO_REUSEPORT): "
                "the kernel spreads new connections over them",
            )

    sub.add_parser("migrate", help="apply database migrations (idempotent, safe to run concurrently)")

    token = sub.add_parser("token", help="mint a development JWT (HS256)")
    token.add_argument("--user", required=True, help="user id (UUID)")
    token.add_argument("--name", default="Player")
    token.add_argument("--ttl", type=int, default=None, help="seconds (default: the maximum allowed)")
    token.add_argument(
        "--admin", action="store_true", help="an admin's token (scoreboard:admin in SCOREBOARD_ADMIN_CLAIM)"
    )

    dev = sub.add_parser("dev", help="start the whole stack locally (embedded Postgres and Redis)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--api-port", type=int, default=8000)
    dev.add_argument("--gateway-port", type=int, default=8001)
    dev.add_argument("--worker-port", type=int, default=8002)
    dev.add_argument("--data-dir", default=".scoreboard")
    dev.add_argument(
        "--allow-remote-dev-routes-insecure",
        action="store_true",
        help="let non-loopback clients use the demo page's dev routes, which mint tokens for anyone",
    )

    play = sub.add_parser("play", help="play one action against a running stack (dev helper)")
    play.add_argument("--name", default="Alice")
    play.add_argument("--user", default=None, help="user id (default: derived from --name)")
    play.add_argument("--type", default="default", dest="action_type")
    play.add_argument("--api", default="http://127.0.0.1:8000")
    play.add_argument("--data-dir", default=".scoreboard")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "api": commands.run_api,
    "gateway": commands.run_gateway,
    "worker": commands.run_worker,
    "migrate": commands.run_migrate,
    "token": commands.run_token,
    "dev": commands.run_dev,
    "play": commands.run_play,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
