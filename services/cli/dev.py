"""`scoreboard dev`: embedded PostgreSQL and Redis, migrations, and the three services, on the
one local-stack supervisor (devstack/stack.py) the tests and benchmarks use too.

Every child gets a parent-death signal, so Ctrl-C, SIGTERM or even `kill -9` of this process
leaves nothing running, and the next run starts on the same data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from types import FrameType

from devstack.net import port_open
from devstack.stack import LocalStack
from scoreboard.security.bearer import mint_dev_token
from services.cli import dev_secrets

READY_TIMEOUT_S = 60.0

# What `scoreboard dev` shows unless SCOREBOARD_BOARDS is set: one board of each kind.
SHOWCASE_BOARDS = {
    "global": {"title": "All time"},
    "daily": {"window": "day", "tz": "Europe/Paris", "retain": 7, "title": "Today (Paris)"},
    "weekly": {"window": "week", "ranks": "shared", "title": "This week (shared ranks)"},
    "sprint": {
        "window": {"seconds": 120, "anchor": "2026-01-01T00:00:00Z"},
        "retain": 30,
        "title": "2-minute sprint",
    },
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DevStack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_dir = Path(args.data_dir).resolve()
        self.stack = LocalStack(
            self.data_dir,
            database_url=os.environ.get("SCOREBOARD_DATABASE_URL", ""),
            redis_url=os.environ.get("SCOREBOARD_REDIS_URL", ""),
        )
        self.stopping = False

    def run(self) -> int:
        ports = (self.args.api_port, self.args.gateway_port, self.args.worker_port)
        busy = [port for port in ports if port_open(port)]
        if busy:
            print(
                f"scoreboard dev: port(s) {busy} already in use; "
                "pass --api-port/--gateway-port/--worker-port",
                file=sys.stderr,
            )
            return 1
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        started = time.monotonic()
        try:
            self.stack.start_servers()
            applied = asyncio.run(self.stack.migrate())
            if applied:
                print(f"migrations applied: {', '.join(applied)}")
            env = self._environment()
            for name, port in (
                ("api", self.args.api_port),
                ("worker", self.args.worker_port),
                ("gateway", self.args.gateway_port),
            ):
                self.stack.add(name, env, port=port, host=self.args.host, log_path=None, inherit_output=True)
            self.stack.start_services(timeout_s=READY_TIMEOUT_S)
            self._banner(env, time.monotonic() - started)
            return self._supervise()
        except KeyboardInterrupt:
            return 0
        except RuntimeError as error:
            print(f"scoreboard dev: {error}", file=sys.stderr)
            return 1
        finally:
            self._stop_all()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        secrets = dev_secrets.load_or_create(self.data_dir)
        env.setdefault("SCOREBOARD_JWT_SECRET", secrets["jwt_secret"])
        env.setdefault("SCOREBOARD_TICKET_SECRET", secrets["ticket_secret"])
        env.setdefault("SCOREBOARD_SIGNING_KEYS", json.dumps({"default": secrets["signing_key"]}))
        env["SCOREBOARD_DATABASE_URL"] = self.stack.database_url
        env["SCOREBOARD_REDIS_URL"] = self.stack.redis_url
        host = self.args.host
        api_origin = f"http://{host}:{self.args.api_port}"
        env.setdefault("SCOREBOARD_CORS_ORIGINS", f"{api_origin},http://localhost:{self.args.api_port}")
        env["SCOREBOARD_DEV_SIGNING_ROUTE"] = "true"
        env.setdefault("SCOREBOARD_BOARDS", json.dumps(SHOWCASE_BOARDS))
        if self.args.allow_remote_dev_routes_insecure:
            env["SCOREBOARD_DEV_ROUTES_ALLOW_REMOTE_INSECURE"] = "true"
            print(
                "WARNING: the dev routes accept any client: anyone who reaches this host can mint a "
                "token and play as any player. Never do this on a network you do not trust.",
                file=sys.stderr,
            )
        elif not _is_loopback(host):
            print(
                f"note: listening on {host}, but the demo page and its dev routes answer loopback "
                "clients only (--allow-remote-dev-routes-insecure changes that).",
                file=sys.stderr,
            )
        env["SCOREBOARD_DEV_GATEWAY_URL"] = f"http://{host}:{self.args.gateway_port}"
        return env

    def _banner(self, env: dict[str, str], elapsed: float) -> None:
        user_id = uuid.uuid4()
        token = mint_dev_token(env["SCOREBOARD_JWT_SECRET"], user_id=user_id, name="Alice", ttl_s=900)
        signing_key = json.loads(env["SCOREBOARD_SIGNING_KEYS"]).get("default", "")
        api = f"http://{self.args.host}:{self.args.api_port}"
        gateway = f"http://{self.args.host}:{self.args.gateway_port}"
        print(
            f"\nScoreboard is up in {elapsed:.1f} s.\n"
            f"  demo page   {api}/\n"
            f"  admin page  {api}/admin\n"
            f"  API         {api}/api/leaderboard/top\n"
            f"  stream      {gateway}/api/realtime/stream\n"
            f"  worker      http://{self.args.host}:{self.args.worker_port}/metrics\n"
            f"  data        {self.data_dir}\n\n"
            "A dev user (Alice), valid 15 minutes, for the README's curl example:\n"
            f"  export SB_API={api} SB_USER={user_id}\n"
            f"  export SB_TOKEN={token}\n"
            f"  export SB_SIGNING_KEY={signing_key}\n\n"
            f"A token for the admin page:      scoreboard token --user {uuid.uuid4()} --name Ops --admin\n"
            "Or play an action in one line:  scoreboard play --name Alice\n"
            f"Watch the stream:               curl -N {gateway}/api/realtime/stream\n\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )

    def _supervise(self) -> int:
        while True:
            self.stack.check()
            time.sleep(0.5)

    def _stop_all(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stack.stop()
