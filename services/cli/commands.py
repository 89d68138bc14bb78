"""What each sub-command does. Settings are read here, at start, and a bad one stops us in one line."""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import sys
import uuid
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from scoreboard.config import BaseScoreboardSettings, fail_on_invalid_settings, fail_on_unparsable_setting
from scoreboard.telemetry.logging import configure_logging
from scoreboard.telemetry.tracing import configure_tracing
from services.cli import dev_secrets

Settings = TypeVar("Settings", bound=BaseScoreboardSettings)
STARTUP_FAILURE = 3  # what uvicorn.run exits with when the server could not start


def load(settings_class: type[Settings], program: str, **overrides: Any) -> Settings:
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        fail_on_invalid_settings(error, program)
    except SettingsError as error:  # a JSON variable that is not JSON
        fail_on_unparsable_setting(error, program)


def _uvicorn_options(host: str, port: int, graceful_s: float) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,  # ours is the request context's (scoreboard/web/middleware.py)
        "timeout_graceful_shutdown": math.ceil(graceful_s),
        "server_header": False,
        "proxy_headers": False,
    }


def _uvicorn(app: Any, args: argparse.Namespace, graceful_s: float) -> int:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **_uvicorn_options(args.host, args.port, graceful_s)))
    server.run(sockets=_shared_sockets(args))
    return 0 if server.started else STARTUP_FAILURE


def _shared_sockets(args: argparse.Namespace) -> list[socket.socket] | None:
    """With --reuse-port: the socket bound here, not listening yet (uvicorn listens once the
    app has started), so the kernel sends connections only to processes ready to serve them.
    Without it: None, uvicorn binds as usual (a second process on the port fails to start)."""
    if not args.reuse_port:
        return None
    family, kind, proto, _, address = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return [sock]


def run_api(args: argparse.Namespace) -> int:
    from services.api.app import create_app
    from services.api.settings import ApiSettings

    settings = load(ApiSettings, "scoreboard api")
    configure_logging("api", settings.log_level)
    configure_tracing("api")
    return _uvicorn(create_app(settings), args, graceful_s=10)


def run_gateway(args: argparse.Namespace) -> int:
    from services.gateway.app import create_app
    from services.gateway.settings import GatewaySettings

    settings = load(GatewaySettings, "scoreboard gateway")
    configure_logging("gateway", settings.log_level)
    configure_tracing("gateway")
    import uvicorn

    from services.gateway.server import DrainingServer

    app = create_app(settings)
    options = _uvicorn_options(args.host, args.port, graceful_s=settings.sse_drain_grace_s + 3)
    server = DrainingServer(uvicorn.Config(app, **options), on_shutdown=app.drain)
    server.run(sockets=_shared_sockets(args))
    return 0 if server.started else STARTUP_FAILURE


def run_worker(args: argparse.Namespace) -> int:
    from services.worker.main import run
    from services.worker.settings import WorkerProcessSettings

    settings = load(WorkerProcessSettings, "scoreboard worker", worker_host=args.host, worker_port=args.port)
    configure_logging("worker", settings.log_level)
    configure_tracing("worker")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(settings))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from scoreboard.config import DatabaseSettings
    from scoreboard.db.migrate import apply_migrations

    settings = load(DatabaseSettings, "scoreboard migrate")
    try:
        applied = asyncio.run(apply_migrations(settings.database_url.get_secret_value(), timeout_s=10))
    except (OSError, TimeoutError) as error:
        print(f"scoreboard migrate: cannot reach the database: {error}", file=sys.stderr)
        return 1
    print(f"migrations applied: {', '.join(applied) if applied else 'none (already up to date)'}")
    return 0


def run_token(args: argparse.Namespace) -> int:
    from scoreboard.config import JwtSettings
    from scoreboard.security.bearer import mint_dev_token

    settings = load(JwtSettings, "scoreboard token")
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else dev_secrets.jwt_secret()
    if not secret:
        print("scoreboard token: SCOREBOARD_JWT_SECRET is not set (HS256 dev tokens only)", file=sys.stderr)
        return 2
    try:
        user_id = uuid.UUID(args.user)
    except ValueError:
        print("scoreboard token: --user must be a UUID", file=sys.stderr)
        return 2
    ttl = min(args.ttl or settings.jwt_max_ttl_s, settings.jwt_max_ttl_s)
    print(
        mint_dev_token(
            secret,
            user_id=user_id,
            name=args.name,
            ttl_s=ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            admin=args.admin,
            admin_claim=settings.admin_claim,
        )
    )
    return 0


def run_dev(args: argparse.Namespace) -> int:
    try:  # dev tooling: in a checkout's install, not in the production image
        from services.cli.dev import DevStack
    except ModuleNotFoundError as error:
        print(
            f"scoreboard dev needs the development install ({error.name} is missing): from a checkout, "
            "pip install -e '.[embedded]'",
            file=sys.stderr,
        )
        return 2
    return DevStack(args).run()


def run_play(args: argparse.Namespace) -> int:
    from services.cli.play import play

    return play(args)
