"""The sets of real processes the end-to-end tests start, on the session's PostgreSQL and Redis;
each process logs to a file of its own under `logs` and is stopped when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.processes import ServiceProcess, free_port, running
from tests.factories import service_environment


@contextmanager
def page_stack(
    database_url: str,
    redis_url: str,
    logs: Path,
    *,
    extra_env: dict[str, str] | None = None,
    api_env: dict[str, str] | None = None,
    gateway_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
    api_port: int | None = None,
) -> Iterator[dict[str, ServiceProcess]]:
    """api, worker and gateway set up as `scoreboard dev` sets them up: the API serves the pages
    and signs dev tokens, and the gateway takes the pages' streams across origins."""
    env = service_environment(database_url, redis_url) | (extra_env or {})
    gateway = ServiceProcess("gateway", env, log_path=logs / "gateway.log")
    api = ServiceProcess("api", env, port=api_port or free_port(), log_path=logs / "api.log")
    api.env = {
        **env,
        "SCOREBOARD_DEV_SIGNING_ROUTE": "true",
        "SCOREBOARD_DEV_GATEWAY_URL": gateway.url,
        **(api_env or {}),
    }
    gateway.env = {**env, "SCOREBOARD_CORS_ORIGINS": api.url, **(gateway_env or {})}
    worker = ServiceProcess("worker", {**env, **(worker_env or {})}, log_path=logs / "worker.log")
    with running({"api": api, "worker": worker, "gateway": gateway}) as services:
        yield services


@contextmanager
def two_apis(
    database_url: str, redis_url: str, logs: Path, extra_env: dict[str, str] | None = None
) -> Iterator[dict[str, ServiceProcess]]:
    """Two API processes (api1, api2), a worker and a gateway: what one process changes, every
    other one must apply by itself."""
    env = service_environment(database_url, redis_url) | (extra_env or {})
    services = {
        name: ServiceProcess(name.rstrip("12"), env, log_path=logs / f"{name}.log")
        for name in ("api1", "api2", "worker", "gateway")
    }
    with running(services):
        yield services
