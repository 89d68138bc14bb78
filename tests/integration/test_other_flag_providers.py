"""SCOREBOARD_FLAGS_PROVIDER points the flags at another OpenFeature provider: flagd (its file
resolver: the flagd evaluation engine without a daemon) or any `package.module:factory`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openfeature.provider import FeatureProvider
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

from tests.factories import Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_rate_limits import assert_rate_limited, increment
from tests.integration.test_write_security import assert_error

WAIT_S = 10.0


def _flagd_file(path: Path, *, increments: bool) -> None:
    flags = {
        "increments": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on" if increments else "off",
        },
        "rate_limit_user_per_min": {"state": "ENABLED", "variants": {"tight": 2}, "defaultVariant": "tight"},
    }
    path.write_text(json.dumps({"flags": flags}))


async def _ticket_status(api: httpx.AsyncClient, player: Player) -> int:
    return (await api.post("/api/actions", json={}, headers=player.headers())).status_code


async def _until_status(api: httpx.AsyncClient, player: Player, wanted: int) -> None:
    started = time.monotonic()
    while (status := await _ticket_status(api, player)) != wanted:
        assert time.monotonic() - started < WAIT_S, f"still {status}, not {wanted}"
        await asyncio.sleep(0.1)


async def test_flagd_from_a_file_switches_increments_and_a_limit(
    api_factory: ApiClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags_file = tmp_path / "flags.json"
    _flagd_file(flags_file, increments=False)
    monkeypatch.setenv("FLAGD_RESOLVER", "file")
    monkeypatch.setenv("FLAGD_OFFLINE_FLAG_SOURCE_PATH", str(flags_file))
    monkeypatch.setenv("FLAGD_OFFLINE_POLL_MS", "200")
    api = await api_factory(flags_provider="flagd", flags_refresh_ms=100)
    alice = Player("Alice")
    await _until_status(api, alice, 503)  # once flagd's provider is ready: increments off
    refused = await api.post("/api/actions", json={}, headers=alice.headers())
    assert_error(refused, 503, "UNAVAILABLE", "maintenance")

    _flagd_file(flags_file, increments=True)  # an operator edits the flags in flagd
    await _until_status(api, alice, 201)
    # realtime and the IP limit are not defined in flagd: the defaults; the user limit is flagd's 2.
    assert [(await increment(api, alice)).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(await increment(api, alice), "user")


def in_memory_provider() -> FeatureProvider:
    """A `package.module:factory` for the test below."""
    return InMemoryProvider({"increments": InMemoryFlag("off", {"off": False})})


async def test_any_provider_from_a_factory(api_factory: ApiClientFactory) -> None:
    spec = f"{__name__}:in_memory_provider"
    api = await api_factory(flags_provider=spec, flags_refresh_ms=100)
    await _until_status(api, Player("Alice"), 503)
    assert await _ticket_status(api, Player("Bob")) == 503  # the factory's provider says off


async def test_with_another_provider_a_put_is_recorded_but_not_what_processes_read(
    api_factory: ApiClientFactory,
) -> None:
    api = await api_factory(flags_provider=f"{__name__}:in_memory_provider", flags_refresh_ms=100)
    root = Player("Root", admin=True)
    body: dict[str, Any] = {"increments": True, "reason": "has no effect with another provider"}
    response = await api.put("/api/admin/flags", json=body, headers=root.headers())
    assert response.status_code == 200, response.text
    await asyncio.sleep(0.3)
    assert await _ticket_status(api, Player("Alice")) == 503  # the other provider still says off
