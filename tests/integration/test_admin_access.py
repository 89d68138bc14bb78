"""Who reaches /api/admin/*: admins only (403 not_admin), a valid token first (401), admins
rate-limited like writers; every admin write says why, or changes nothing (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.factories import JWT_SECRET, Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_write_security import assert_error

SOMEONE = "00000000-0000-0000-0000-0000000000aa"
ROUTES = [
    ("GET", "/api/admin/flags", None),
    ("PUT", "/api/admin/flags", {"increments": False, "reason": "maintenance window"}),
    ("GET", "/api/admin/audit", None),
    ("GET", "/api/admin/adjustments", None),
    ("POST", "/api/admin/adjustments", {"userId": SOMEONE, "board": "global", "delta": 5, "reason": "r"}),
    ("POST", f"/api/admin/adjustments/{SOMEONE}/approve", {"reason": "r"}),
    ("POST", f"/api/admin/adjustments/{SOMEONE}/reject", {"reason": "r"}),
    ("POST", f"/api/admin/users/{SOMEONE}/ban", {"reason": "r"}),
    ("POST", f"/api/admin/users/{SOMEONE}/unban", {"reason": "r"}),
    ("GET", "/api/admin/reviews", None),
    ("POST", f"/api/admin/reviews/{SOMEONE}/clear", {"reason": "r"}),
    ("POST", f"/api/admin/reviews/{SOMEONE}/ban", {"reason": "r"}),
]
ROOT = Player("Root", admin=True)


async def _call(api: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str) -> httpx.Response:
    return await api.request(method, path, json=body, headers=headers)


async def _state(api: httpx.AsyncClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The flags and the audit log, as an admin sees them."""
    flags = await api.get("/api/admin/flags", headers=ROOT.headers())
    audit = await api.get("/api/admin/audit", headers=ROOT.headers())
    assert flags.status_code == audit.status_code == 200, (flags.text, audit.text)
    items: list[dict[str, Any]] = audit.json()["items"]
    return flags.json(), items


def _expired_admin_token() -> str:
    now = int(time.time())
    claims = {"sub": str(ROOT.user_id), "iat": now - 600, "exp": now - 120, "roles": ["scoreboard:admin"]}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(JWT_SECRET))


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_without_a_token_it_is_401(api: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    response = await _call(api, method, path, body)
    assert_error(response, 401, "UNAUTHENTICATED", "token_missing")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_an_expired_admin_token_is_401(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await _call(api, method, path, body, authorization=f"Bearer {_expired_admin_token()}")
    assert_error(response, 401, "UNAUTHENTICATED", "token_expired")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_a_non_admin_is_403_not_admin(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await _call(api, method, path, body, **Player("Mallory").headers())
    assert_error(response, 403, "UNAUTHORIZED", "not_admin")
    flags, audit = await _state(api)
    assert (flags["increments"], flags["version"], audit) == (True, 1, [])


async def test_a_non_admin_learns_nothing_about_a_bad_query_or_body(api: httpx.AsyncClient) -> None:
    mallory = Player("Mallory").headers()
    assert_error(await api.get("/api/admin/audit?limit=0", headers=mallory), 403, "UNAUTHORIZED", "not_admin")
    response = await api.put("/api/admin/flags", json={"increments": "no"}, headers=mallory)
    assert_error(response, 403, "UNAUTHORIZED", "not_admin")


async def test_a_token_naming_the_role_in_another_claim_is_no_admins(api_factory: ApiClientFactory) -> None:
    api = await api_factory(admin_claim="groups")
    response = await api.get("/api/admin/flags", headers=ROOT.headers())  # roles: [scoreboard:admin]
    assert_error(response, 403, "UNAUTHORIZED", "not_admin")


@pytest.mark.parametrize(
    "body",
    [
        {"increments": False},
        {"increments": False, "reason": ""},
        {"increments": False, "reason": " \t "},
        {"increments": False, "reason": "x" * 10_000},  # 10 kB: a field error, not a 413
        {"increments": False, "reason": "because\u0000"},
        {"increments": False, "reason": "because\n"},
        {"increments": False, "reason": None},
    ],
)
async def test_a_write_without_a_real_reason_is_400_and_changes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await api.put("/api/admin/flags", json=body, headers=ROOT.headers())
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "reason" in [item["field"] for item in error["details"]["fields"]]
    flags, audit = await _state(api)
    assert (flags["increments"], flags["version"], audit) == (True, 1, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"increments": "false"},
        {"increments": 0},
        {"increments": None},
        {"realtime": "off"},
        {"rate_limit_user_per_min": "100"},
        {"rate_limit_user_per_min": 1.5},
        {"rate_limit_user_per_min": 0},
        {"rate_limit_ip_per_min": -1},
        {"rate_limit_ip_per_min": 10**12},
        {"rate_limit_ip_per_min": False},
        {"increment": False},  # a misspelt flag is refused, not ignored
        {},
    ],
)
async def test_a_wrong_flag_is_400_and_nothing_changes_not_even_the_good_ones(
    api: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    body = {"realtime": False, "reason": "mixed bag"} | changes
    if changes == {}:
        body = {"reason": "nothing named"}
    response = await api.put("/api/admin/flags", json=body, headers=ROOT.headers())
    assert_error(response, 400, "VALIDATION_ERROR")
    flags, audit = await _state(api)
    assert (flags["realtime"], flags["version"], audit) == (True, 1, [])


async def test_malformed_json_and_a_body_over_32_kib_change_nothing(api: httpx.AsyncClient) -> None:
    headers = ROOT.headers() | {"content-type": "application/json"}
    assert_error(await api.put("/api/admin/flags", content=b"{", headers=headers), 400, "VALIDATION_ERROR")
    assert_error(await api.put("/api/admin/flags", content=b"[]", headers=headers), 400, "VALIDATION_ERROR")
    huge = b'{"reason": "' + b"x" * 40_000 + b'", "increments": false}'
    assert_error(await api.put("/api/admin/flags", content=huge, headers=headers), 413, "VALIDATION_ERROR")
    flags, audit = await _state(api)
    assert (flags["version"], audit) == (1, [])


async def test_admins_are_rate_limited_per_user_like_writers(api_factory: ApiClientFactory) -> None:
    api = await api_factory(rate_limit_user_per_min=3)
    other = Player("Other root", admin=True)
    answers = [(await api.get("/api/admin/flags", headers=ROOT.headers())).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = await api.put(
        "/api/admin/flags", json={"realtime": False, "reason": "r"}, headers=ROOT.headers()
    )
    assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["retry-after"]) >= 1
    assert (await api.get("/api/admin/flags", headers=other.headers())).status_code == 200  # per user
