"""Runtime flags change what every API process does, without a restart (ARCHITECTURE.md: Operators):
increments off is 503 maintenance, a limit flag overrides the environment's, each change is one
audit row and one log line, the gateway's Redis copy follows."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest

from scoreboard.domain.flags import RuntimeFlags, StoredFlags
from scoreboard.redis_store import flags_mirror
from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_rate_limits import assert_rate_limited, increment
from tests.integration.test_write_security import assert_error, redis_down_url
from tests.servers import redis_client

ROOT = Player("Root", admin=True)
WAIT_S = 10.0  # generous on a busy machine: the contract (2 s) is measured by the e2e test


async def put_flags(api: httpx.AsyncClient, reason: str = "operator test", **flags: Any) -> dict[str, Any]:
    response = await api.put("/api/admin/flags", json={**flags, "reason": reason}, headers=ROOT.headers())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def audit_rows(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/api/admin/audit", headers=ROOT.headers())
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["items"]
    return rows


async def test_increments_off_is_503_maintenance_on_both_write_routes_and_back(
    api: httpx.AsyncClient,
) -> None:
    alice = Player("Alice")
    early_ticket = await alice.ticket(api)
    assert (await put_flags(api, increments=False))["increments"] is False

    taken = await api.post("/api/actions", json={"type": "default"}, headers=alice.headers())
    assert_error(taken, 503, "UNAVAILABLE", "maintenance")
    headers, body = alice.signed(early_ticket)
    played = await api.post("/api/scores/increment", json=body, headers=headers)
    assert_error(played, 503, "UNAVAILABLE", "maintenance")
    assert int(taken.headers["retry-after"]) >= 1
    assert int(played.headers["retry-after"]) >= 1
    assert (await api.get("/api/leaderboard/top")).status_code == 200  # reads go on

    await put_flags(api, increments=True)
    again = await api.post("/api/scores/increment", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["newScore"] == 1  # the request refused during maintenance, retried: once


async def test_each_change_is_one_audit_row_and_one_log_line(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scoreboard.audit")
    first = await put_flags(api, reason="db upgrade", increments=False)
    second = await put_flags(api, reason="done", increments=True, rate_limit_user_per_min=30)

    rows = await audit_rows(api)
    assert [row["reason"] for row in rows] == ["done", "db upgrade"]  # newest first
    newest, oldest = rows
    assert oldest["before"] == {
        "increments": True,
        "realtime": True,
        "rate_limit_user_per_min": None,
        "rate_limit_ip_per_min": None,
        "version": 1,
    }
    assert oldest["after"] == oldest["before"] | {"increments": False, "version": first["version"]}
    assert newest["before"] == oldest["after"]
    assert newest["after"] == {**second}
    for row in rows:
        assert (row["actor"], row["action"], row["target"]) == (str(ROOT.user_id), "flags.update", "flags")
        assert row["requestId"]

    lines = [r.__dict__ for r in caplog.records if r.name == "scoreboard.audit" and r.msg == "admin_action"]
    assert [(line["audit_id"], line["reason"]) for line in lines] == [
        (r["id"], r["reason"]) for r in rows[::-1]
    ]
    assert lines[0]["request_id"] == oldest["requestId"]


async def test_the_request_id_of_the_change_is_recorded(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/api/admin/flags",
        json={"realtime": False, "reason": "traced"},
        headers=ROOT.headers() | {"x-request-id": "ops-ticket-4711"},
    )
    assert response.status_code == 200
    assert (await audit_rows(api))[0]["requestId"] == "ops-ticket-4711"


async def test_a_user_limit_flag_overrides_the_environment_and_null_restores_it(
    api: httpx.AsyncClient,
) -> None:
    alice = Player("Alice")
    await put_flags(api, rate_limit_user_per_min=2)
    assert [(await increment(api, alice)).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(await increment(api, alice), "user")

    await put_flags(api, rate_limit_user_per_min=None)  # the environment's 60 again
    assert (await increment(api, alice)).status_code == 200


async def test_an_ip_limit_flag_overrides_the_environment(api: httpx.AsyncClient) -> None:
    await put_flags(api, rate_limit_ip_per_min=3)
    answers = [(await increment(api, Player(f"P{n}"), ip="203.0.113.9")).status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]
    assert (await increment(api, Player("Elsewhere"), ip="203.0.113.10")).status_code == 200


async def test_another_api_process_applies_a_change_within_its_refresh(api_factory: ApiClientFactory) -> None:
    api1 = await api_factory()
    api2 = await api_factory()  # another process, as far as flags go: its own provider and view
    alice = Player("Alice")
    await put_flags(api1, increments=False)
    started = time.monotonic()
    while (await api2.post("/api/actions", json={}, headers=alice.headers())).status_code != 503:
        assert time.monotonic() - started < WAIT_S, "the other process never applied the change"
        await asyncio.sleep(0.05)
    print(f"applied by the other process after {time.monotonic() - started:.3f} s")


async def test_a_change_is_copied_to_redis_for_the_gateway(api: httpx.AsyncClient, redis_url: str) -> None:
    after = await put_flags(api, realtime=False, rate_limit_ip_per_min=77)
    redis = redis_client(redis_url)
    try:
        copy = await flags_mirror.read(redis)
    finally:
        await redis.aclose()
    expected = RuntimeFlags(realtime=False, rate_limit_ip_per_min=77)
    assert copy == StoredFlags(expected, after["version"])


async def test_with_redis_away_a_change_still_commits_and_applies(api_factory: ApiClientFactory) -> None:
    api = await api_factory(redis_url=redis_down_url())
    alice = Player("Alice")
    after = await put_flags(api, increments=False)
    assert after["increments"] is False
    response = await api.post("/api/actions", json={}, headers=alice.headers())
    assert_error(response, 503, "UNAVAILABLE", "maintenance")


async def test_two_admins_changing_different_flags_at_once_both_take_effect(api: httpx.AsyncClient) -> None:
    await asyncio.gather(
        put_flags(api, reason="one", increments=False), put_flags(api, reason="two", realtime=False)
    )
    flags = (await api.get("/api/admin/flags", headers=ROOT.headers())).json()
    assert (flags["increments"], flags["realtime"], flags["version"]) == (False, False, 3)
    newest, oldest = await audit_rows(api)
    assert newest["before"] == oldest["after"]  # each row's "before" is what its change replaced


async def test_the_audit_log_pages_newest_first_with_an_opaque_cursor(api: httpx.AsyncClient) -> None:
    for number in range(5):
        await put_flags(api, reason=f"change {number}", realtime=number % 2 == 0)
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await api.get("/api/admin/audit", params=query, headers=ROOT.headers())
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [row["reason"] for row in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()
    assert seen == [f"change {n}" for n in reversed(range(5))]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=global", "cursor=MTIz"])
async def test_a_bad_page_request_is_400(api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"/api/admin/audit?{query}", headers=ROOT.headers())
    assert_error(response, 400, "VALIDATION_ERROR")
