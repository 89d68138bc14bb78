"""Every service starts before its servers do, says so on /readyz, and connects by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scoreboard.db.migrate import apply_migrations
from scoreboard.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.factories import service_environment
from tests.processes import ServiceProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def servers_not_started(tmp_path: Path) -> Iterator[tuple[EmbeddedPostgres, EmbeddedRedis]]:
    postgres = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    redis = EmbeddedRedis(tmp_path / "redis", persist=False)
    yield postgres, redis
    redis.stop()
    postgres.stop()


def _status(service: ServiceProcess, path: str) -> int:
    return httpx.get(service.url + path, timeout=5).status_code


def _wait_ready(service: ServiceProcess, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while _status(service, "/readyz") != 200:
        assert time.monotonic() < deadline, f"{service.name} never became ready"
        time.sleep(0.2)


async def test_services_start_first_and_connect_when_the_servers_come_up(
    servers_not_started: tuple[EmbeddedPostgres, EmbeddedRedis], tmp_path: Path
) -> None:
    postgres, redis = servers_not_started
    env = service_environment(postgres.url, redis.url)
    services = [
        ServiceProcess(name, env, log_path=tmp_path / f"{name}.log") for name in ("api", "worker", "gateway")
    ]
    try:
        for service in services:
            service.start(wait_for="/healthz")  # alive with nothing to talk to: no crash loop
        assert [_status(service, "/readyz") for service in services] == [503, 503, 503]

        postgres.start()
        await apply_migrations(postgres.url, timeout_s=10)
        _wait_ready(services[0])  # the API serves from PostgreSQL alone
        assert _status(services[2], "/readyz") == 503  # the gateway needs Redis

        redis.start()
        for service in services:
            _wait_ready(service)
        assert all(service.process is not None and service.process.poll() is None for service in services)
    finally:
        for service in services:
            service.stop()
