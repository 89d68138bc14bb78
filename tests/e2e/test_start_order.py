"""Every service starts before its servers do, says so on /readyz, and connects by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.processes import ServiceProcess
from devstack.servers import EmbeddedPostgres, EmbeddedRedis
from scoreboard.db.migrate import apply_migrations
from tests.factories import service_environment
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def servers_not_started(tmp_path: Path) -> Iterator[tuple[EmbeddedPostgres, EmbeddedRedis]]:
    postgres = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    redis = EmbeddedRedis(tmp_path / "redis", persist=False)
    yield postgres, redis
    redis.stop()
    postgres.stop()


async def _status(service: ServiceProcess, path: str) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(service.url + path)).status_code


async def _wait_ready(service: ServiceProcess, timeout_s: float = 30) -> None:
    await eventually(lambda: _status(service, "/readyz"), lambda status: status == 200, timeout_s=timeout_s)


async def test_services_start_first_and_connect_when_the_servers_come_up(
    servers_not_started: tuple[EmbeddedPostgres, EmbeddedRedis], tmp_path: Path
) -> None:
    postgres, redis = servers_not_started
    env = service_environment(postgres.url, redis.url)
    services = [
        ServiceProcess(name, env, log_path=tmp_path / f"{name}.log") for name in ("api", "worker", "gateway")
    ]
    try:
        for service in services:  # alive with nothing to talk to: no crash loop
            await asyncio.to_thread(service.start, wait_for="/healthz")
        assert [await _status(service, "/readyz") for service in services] == [503, 503, 503]

        await asyncio.to_thread(postgres.start)
        await apply_migrations(postgres.url, timeout_s=10)
        await _wait_ready(services[0])  # the API serves from PostgreSQL alone
        assert await _status(services[2], "/readyz") == 503  # the gateway needs Redis

        await asyncio.to_thread(redis.start)
        for service in services:
            await _wait_ready(service)
        assert all(service.process is not None and service.process.poll() is None for service in services)
    finally:
        for service in services:
            await asyncio.to_thread(service.stop)
