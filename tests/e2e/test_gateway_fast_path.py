"""The stream is served outside Starlette's middleware stack: what that stack did still happens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.processes import ServiceProcess
from tests.factories import service_environment

pytestmark = pytest.mark.e2e

ORIGIN = "http://page.example"
STREAM = "/api/realtime/stream"


@pytest.fixture
def gateway(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = service_environment(database_url, redis_url) | {"SCOREBOARD_CORS_ORIGINS": ORIGIN}
    process = ServiceProcess("gateway", env, log_path=tmp_path / "gateway.log")
    process.start(wait_for="/readyz")
    yield process
    process.stop()


async def test_request_id_cors_and_metrics_on_the_stream(gateway: ServiceProcess) -> None:
    offered = "client-" + uuid.uuid4().hex
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "GET", gateway.url + STREAM, headers={"x-request-id": offered, "origin": ORIGIN}
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-request-id"] == offered
            assert response.headers["access-control-allow-origin"] == ORIGIN
            assert "Origin" in response.headers["vary"]
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    break
        async with client.stream(
            "GET", gateway.url + STREAM, headers={"x-request-id": "bad id!", "origin": "http://evil.example"}
        ) as response:
            generated = response.headers["x-request-id"]
            assert generated != "bad id!"
            assert re.fullmatch(r"[0-9a-f]{16,}", generated)  # generated here, not the insane one
            assert "access-control-allow-origin" not in response.headers
        refused = await client.get(gateway.url + STREAM, params={"token": "nope"}, headers={"origin": ORIGIN})
        assert refused.status_code == 401
        assert set(refused.json()) == {"code", "message", "details"}
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.headers["access-control-allow-origin"] == ORIGIN
        assert refused.headers["x-request-id"]
        preflight = await client.options(
            gateway.url + STREAM,
            headers={"origin": ORIGIN, "access-control-request-method": "GET"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert (await client.post(gateway.url + STREAM)).status_code == 405
        metrics = (await client.get(gateway.url + "/metrics")).text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("scoreboard_http_requests_total") and f'route="{STREAM}"' in line
    ]
    assert any('status="200"' in line and line.endswith(" 2.0") for line in counted), counted
    assert any('status="401"' in line for line in counted), counted
