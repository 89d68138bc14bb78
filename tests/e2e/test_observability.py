"""After a short load: every service's /metrics shows its series, and the logs are clean JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.processes import ServiceProcess, running
from scoreboard.security.realtime_tokens import RealtimeTokens
from tests.factories import JWT_SECRET, SIGNING_KEYS, TICKET_SECRET, Player, service_environment

pytestmark = pytest.mark.e2e

EXPECTED_SERIES = {
    "api": [
        "scoreboard_http_requests_total",
        "scoreboard_http_request_duration_seconds_bucket",
        "scoreboard_rate_limit_rejections_total",
        "scoreboard_idempotency_total",
        "scoreboard_increments_total",
        "scoreboard_top_cache_total",
        "scoreboard_jobs_total",
    ],
    "worker": [
        "scoreboard_jobs_total",
        "scoreboard_events_published_total",
        "scoreboard_reconciler_lag_seconds",
        "scoreboard_job_queue_depth",
    ],
    "gateway": [
        "scoreboard_sse_connections",
        "scoreboard_sse_events_sent_total",
        "scoreboard_publish_to_deliver_seconds_bucket",
    ],
}


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    env = service_environment(database_url, redis_url) | {"SCOREBOARD_RATE_LIMIT_USER_PER_MIN": "3"}
    env |= {"SCOREBOARD_TRUSTED_PROXIES": "127.0.0.1/32", "SCOREBOARD_ACCESS_LOG": "all"}
    services = {
        n: ServiceProcess(n, env, log_path=tmp_path / f"{n}.log") for n in ("api", "worker", "gateway")
    }
    with running(services):
        yield services


async def test_metrics_and_logs_after_a_short_load(stack: dict[str, ServiceProcess], tmp_path: Path) -> None:
    player = Player("Alice", ip="203.0.113.77")
    stream_token = RealtimeTokens(TICKET_SECRET, 60).issue(player.user_id)
    async with httpx.AsyncClient(base_url=stack["api"].url, timeout=10) as api:
        async with httpx.AsyncClient(timeout=10) as sse:
            stream = sse.stream(
                "GET", f"{stack['gateway'].url}/api/realtime/stream", params={"token": stream_token}
            )
            async with stream as response:
                lines = response.aiter_lines()
                tickets = [await player.ticket(api) for _ in range(3)]
                for ticket in tickets:
                    headers, body = player.signed(ticket)
                    assert (
                        await api.post("/api/scores/increment", json=body, headers=headers)
                    ).status_code == 200
                replay = await api.post("/api/scores/increment", json=body, headers=headers)
                assert replay.status_code == 429  # the user limit, 3/min, counts retries too
                bob = Player("Bob", ip="203.0.113.78")
                headers, forged = bob.signed(await bob.ticket(api))
                forged["userId"] = str(uuid.uuid4())  # somebody else's score
                forbidden = await api.post("/api/scores/increment", json=forged, headers=headers)
                assert forbidden.status_code == 403
                assert (await api.get("/api/leaderboard/top")).status_code == 200
                seen_user_event = False
                async for line in lines:
                    if line.startswith("event: user_score_updated"):
                        seen_user_event = True
                        break
                assert seen_user_event
        for name, service in stack.items():
            metrics = (await api.get(service.url + "/metrics")).text
            missing = [series for series in EXPECTED_SERIES[name] if series not in metrics]
            assert not missing, f"{name} lacks {missing}"

    for name in stack:
        text = (tmp_path / f"{name}.log").read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert lines, name
        assert all({"ts", "level", "service", "msg"} <= set(line) for line in lines)
        for secret in (
            JWT_SECRET,
            TICKET_SECRET,
            *SIGNING_KEYS.values(),
            player.token,
            stream_token,
            "203.0.113.77",
        ):
            assert secret not in text, f"{name} logged a secret or a raw IP"
    api_log = [json.loads(line) for line in (tmp_path / "api.log").read_text().splitlines() if line.strip()]
    rejections = [line for line in api_log if line["msg"] == "rejected"]
    assert {line["code"] for line in rejections} >= {"RATE_LIMITED", "UNAUTHORIZED"}
    assert all(line["ip"] in {"203.0.113.0/24", "127.0.0.0/24"} for line in rejections)
    requests = [line for line in api_log if line["msg"] == "request"]
    assert len(requests) >= 8
    assert all(line.get("request_id") and line.get("route") for line in requests)
