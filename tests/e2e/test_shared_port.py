"""Several processes of a service on one port (`--reuse-port`), as a machine running several pods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.net import listens
from devstack.processes import ServiceProcess, running
from tests.factories import service_environment

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(database_url: str, redis_url: str) -> dict[str, str]:
    return service_environment(database_url, redis_url)


@pytest.fixture(params=["api", "gateway"])
def pair(
    request: pytest.FixtureRequest, env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    name = request.param
    first = ServiceProcess(name, env, log_path=tmp_path / f"{name}.log", reuse_port=True)
    second = ServiceProcess(name, env, port=first.port, log_path=tmp_path / f"{name}-2.log", reuse_port=True)
    with running({name: first, f"{name}-2": second}):
        yield first, second


def test_two_processes_serve_one_port_and_either_carries_on_alone(
    pair: tuple[ServiceProcess, ServiceProcess],
) -> None:
    first, second = pair
    assert first.process is not None
    assert second.process is not None
    assert listens(first.process.pid, first.port)
    assert listens(second.process.pid, second.port)
    first.stop()
    with httpx.Client(timeout=5) as client:  # new connections now all reach the second one
        assert [client.get(second.url + "/readyz").status_code for _ in range(5)] == [200] * 5


def test_without_the_option_a_second_process_cannot_start(env: dict[str, str], tmp_path: Path) -> None:
    first = ServiceProcess("api", env, log_path=tmp_path / "api.log").start(wait_for="/healthz")
    second = ServiceProcess("api", env, port=first.port, log_path=tmp_path / "api-2.log")
    try:
        second.spawn()
        assert second.process is not None
        assert second.process.wait(30) == 3  # uvicorn's startup failure: the port is taken
    finally:
        second.stop()
        first.stop()
