"""Admin sign-in by OIDC against a real provider built from authlib's server components
(tests/oidc_provider.py): code + PKCE, the ID token checked, a cookie session, CSRF-safe writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.api.admin_session import user_id_of
from tests.factories import JWT_SECRET, TICKET_SECRET, Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_write_security import assert_error, redis_down_url
from tests.oidc_provider import LocalOidcProvider, Person, serving

PUBLIC_URL = "http://127.0.0.1:8000"
CLIENT_ID = "scoreboard-admin-page"
CLIENT_SECRET = "test-oidc-client-secret-0123456789abcdef"
SESSION_SECRET = "test-admin-session-secret-0123456789abcdef"
ADA = Person(sub=str(uuid.uuid4()), name="Ada", roles=("scoreboard:admin",))
GRACE = Person(sub="grace@example.com", name="Grace", roles=("openid", "scoreboard:admin"))
BOB = Person(sub=str(uuid.uuid4()), name="Bob", roles=("player",))
PAGE = {"origin": PUBLIC_URL, "sec-fetch-site": "same-origin"}


@pytest.fixture
async def provider() -> AsyncIterator[LocalOidcProvider]:
    provider = LocalOidcProvider(people={"ada": ADA, "grace": GRACE, "bob": BOB})
    async with serving(provider):
        provider.add_client(CLIENT_ID, CLIENT_SECRET, f"{PUBLIC_URL}/admin/callback")
        yield provider


def oidc_settings(issuer: str) -> dict[str, Any]:
    return {
        "admin_oidc_issuer": issuer,
        "admin_oidc_client_id": CLIENT_ID,
        "admin_oidc_client_secret": CLIENT_SECRET,
        "admin_public_url": PUBLIC_URL,
        "admin_session_secret": SESSION_SECRET,
    }


@pytest.fixture
async def api(api_factory: ApiClientFactory, provider: LocalOidcProvider) -> httpx.AsyncClient:
    return await api_factory(**oidc_settings(provider.issuer))


async def at_provider(login: httpx.Response, person: str) -> str:
    """What the browser does at the provider: follow /admin/login there, pick `person`; returns
    the path and query the provider sends the browser back to."""
    assert login.status_code == 302, login.text
    authorize = login.headers["location"]
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorize)
        assert page.status_code == 200, page.text
        query = {key: values[0] for key, values in parse_qs(urlsplit(authorize).query).items()}
        consent = await browser.post(authorize.split("?")[0], data={**query, "person": person})
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{PUBLIC_URL}/admin/callback"
    return f"{back.path}?{back.query}"


async def sign_in(api: httpx.AsyncClient, person: str = "ada") -> httpx.Response:
    return await api.get(await at_provider(await api.get("/admin/login"), person))


async def session_of(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/admin/session")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def assert_signed_out_to(response: httpx.Response, why: str) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/admin?signin={why}"


async def test_an_admin_signs_in_and_the_page_session_calls_the_admin_api(api: httpx.AsyncClient) -> None:
    callback = await sign_in(api, "ada")
    assert (callback.status_code, callback.headers["location"]) == (303, "/admin")
    session = await session_of(api)
    assert session["oidc"] is session["signedIn"] is True
    assert session["user"] == {"userId": ADA.sub, "name": "Ada"}

    assert (await api.get("/api/admin/flags")).status_code == 200  # a read needs no CSRF token
    headers = PAGE | {"x-csrf-token": session["csrfToken"]}
    changed = await api.put("/api/admin/flags", json={"realtime": False, "reason": "sso"}, headers=headers)
    assert changed.status_code == 200, changed.text
    audit = (await api.get("/api/admin/audit")).json()["items"]
    assert [(row["actor"], row["action"], row["reason"]) for row in audit] == [
        (ADA.sub, "flags.update", "sso")
    ]


async def test_the_session_cookie_is_httponly_samesite_strict_and_the_flow_cookie_is_spent(
    api: httpx.AsyncClient,
) -> None:
    login = await api.get("/admin/login")
    flow_cookie = login.headers["set-cookie"].lower()
    assert "path=/admin/callback" in flow_cookie
    assert "httponly" in flow_cookie
    assert "samesite=lax" in flow_cookie  # the provider's redirect back is a cross-site navigation
    callback = await api.get(await at_provider(login, "ada"))
    cookies = [value.lower() for value in callback.headers.get_list("set-cookie")]
    session_cookie = next(value for value in cookies if value.startswith("scoreboard-admin="))
    assert "httponly" in session_cookie
    assert "samesite=strict" in session_cookie
    assert "path=/;" in session_cookie
    assert "secure" not in session_cookie  # served over plain http on a loopback address here
    spent = next(value for value in cookies if value.startswith("scoreboard-admin-flow="))
    assert "max-age=0" in spent or "expires=thu, 01 jan 1970" in spent


async def test_the_authorization_request_uses_pkce_s256_a_nonce_and_the_registered_redirect(
    api: httpx.AsyncClient, provider: LocalOidcProvider
) -> None:
    login = await api.get("/admin/login")
    location = urlsplit(login.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/authorize"
    query = parse_qs(location.query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["nonce"][0]
    assert query["state"][0]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/admin/callback"]
    assert query["scope"] == ["openid profile"]
    assert "code_verifier" not in query
    assert CLIENT_SECRET not in login.headers["location"]


async def test_a_subject_that_is_no_uuid_gets_a_stable_user_id_of_its_own(
    api: httpx.AsyncClient, provider: LocalOidcProvider
) -> None:
    await sign_in(api, "grace")
    user = (await session_of(api))["user"]
    assert user == {"userId": str(user_id_of(provider.issuer, GRACE.sub)), "name": "Grace"}
    assert user["userId"] != str(user_id_of(provider.issuer, "grace@example.org"))


async def test_a_user_without_the_admin_role_gets_no_session(api: httpx.AsyncClient) -> None:
    assert_signed_out_to(await sign_in(api, "bob"), "not_admin")
    assert (await session_of(api))["signedIn"] is False
    assert_error(await api.get("/api/admin/flags"), 401, "UNAUTHENTICATED", "token_missing")


async def test_a_forged_state_is_refused(api: httpx.AsyncClient) -> None:
    back = await at_provider(await api.get("/admin/login"), "ada")
    query = parse_qs(urlsplit(back).query)
    forged = f"/admin/callback?code={query['code'][0]}&state=forged-{query['state'][0]}"
    assert_signed_out_to(await api.get(forged), "state_mismatch")
    assert (await session_of(api))["signedIn"] is False


async def test_a_callback_reaching_another_browser_is_refused(
    api_factory: ApiClientFactory, provider: LocalOidcProvider
) -> None:
    """An attacker's own code and state, sent to a victim's browser (login CSRF): the victim
    has no flow cookie for that state."""
    attacker = await api_factory(**oidc_settings(provider.issuer))
    victim = await api_factory(**oidc_settings(provider.issuer))
    back = await at_provider(await attacker.get("/admin/login"), "ada")
    assert_signed_out_to(await victim.get(back), "state_mismatch")
    assert (await session_of(victim))["signedIn"] is False


async def test_a_replayed_code_is_refused_by_the_provider_and_opens_no_session(
    api: httpx.AsyncClient, provider: LocalOidcProvider
) -> None:
    login = await api.get("/admin/login")
    flow_cookie = login.headers["set-cookie"].split(";")[0]
    back = await at_provider(login, "ada")
    assert (await api.get(back)).status_code == 303
    assert (
        await api.post("/admin/logout", headers=PAGE | {"x-csrf-token": (await session_of(api))["csrfToken"]})
    ).status_code == 204
    # The same callback again, with the flow cookie kept from before: the code is spent.
    api.cookies.clear()
    replay = await api.get(back, headers={"cookie": flow_cookie})
    assert_signed_out_to(replay, "refused")
    assert provider.refusals == ["invalid_grant"]
    assert (await session_of(api))["signedIn"] is False


async def test_an_answer_from_the_provider_saying_no_is_refused(api: httpx.AsyncClient) -> None:
    login = await api.get("/admin/login")
    state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    assert_signed_out_to(await api.get(f"/admin/callback?error=access_denied&state={state}"), "denied")


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no origin at all"),
        ({"sec-fetch-site": "cross-site"}, "cross-site"),
        ({"sec-fetch-site": "same-site", "origin": PUBLIC_URL}, "same-site is not same-origin"),
        ({"origin": "https://evil.example"}, "another origin"),
        ({"origin": "http://127.0.0.1:8001", "sec-fetch-site": "same-origin"}, "another port"),
        (PAGE, "no CSRF token"),
        (PAGE | {"x-csrf-token": "guessed"}, "a wrong CSRF token"),
    ],
)
async def test_a_cookie_write_not_proven_the_pages_own_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, headers: dict[str, str], why: str
) -> None:
    await sign_in(api)
    body = {"increments": False, "reason": "csrf attempt"}
    refused = await api.put("/api/admin/flags", json=body, headers=headers)
    assert_error(refused, 403, "UNAUTHORIZED", "csrf_refused")
    flags = (await api.get("/api/admin/flags")).json()
    assert (flags["increments"], flags["version"]) == (True, 1), why
    assert (await api.get("/api/admin/audit")).json()["items"] == []
    logout = await api.post("/admin/logout", headers=headers)
    assert_error(logout, 403, "UNAUTHORIZED", "csrf_refused")
    assert (await session_of(api))["signedIn"] is True


async def test_signing_out_ends_the_session(api: httpx.AsyncClient) -> None:
    await sign_in(api)
    token = (await session_of(api))["csrfToken"]
    assert (await api.post("/admin/logout", headers=PAGE | {"x-csrf-token": token})).status_code == 204
    assert (await session_of(api))["signedIn"] is False
    assert_error(await api.get("/api/admin/flags"), 401, "UNAUTHENTICATED", "token_missing")


async def test_a_copy_of_the_cookie_taken_before_signing_out_is_refused_after_it(
    api: httpx.AsyncClient,
) -> None:
    await sign_in(api)
    stolen = httpx.Cookies(api.cookies)  # copied before the sign-out, as a thief would have it
    token = (await session_of(api))["csrfToken"]
    assert (await api.get("/api/admin/flags")).status_code == 200
    assert (await api.post("/admin/logout", headers=PAGE | {"x-csrf-token": token})).status_code == 204

    api.cookies = stolen
    assert_error(await api.get("/api/admin/flags"), 401, "UNAUTHENTICATED", "token_invalid")
    api.cookies = stolen
    assert (await session_of(api))["signedIn"] is False


async def test_a_session_is_refused_while_redis_cannot_say_whether_it_was_signed_out(
    api: httpx.AsyncClient, api_factory: ApiClientFactory, provider: LocalOidcProvider
) -> None:
    await sign_in(api)
    cut_off = await api_factory(redis_url=redis_down_url(), **oidc_settings(provider.issuer))
    cut_off.cookies = httpx.Cookies(api.cookies)
    assert_error(await cut_off.get("/api/admin/flags"), 503, "UNAVAILABLE", "session_unverifiable")


async def test_a_bearer_token_is_used_when_sent_and_the_session_is_then_ignored(
    api: httpx.AsyncClient,
) -> None:
    await sign_in(api)
    mallory = Player("Mallory")
    assert_error(
        await api.get("/api/admin/flags", headers=mallory.headers()), 403, "UNAUTHORIZED", "not_admin"
    )
    root = Player("Root", admin=True)
    answer = await api.put(
        "/api/admin/flags", json={"realtime": False, "reason": "script"}, headers=root.headers()
    )
    assert answer.status_code == 200  # no Origin, no CSRF token: a bearer token is not ambient


async def test_nothing_secret_reaches_the_browser(api: httpx.AsyncClient) -> None:
    await sign_in(api)
    seen = [
        await api.get("/admin"),
        await api.get("/admin/admin.js"),
        await api.get("/admin/admin.css"),
        await api.get("/admin/session"),
        await api.get("/admin/login"),
    ]
    for response in seen:
        text = response.text + str(response.headers)
        for secret in (CLIENT_SECRET, SESSION_SECRET, JWT_SECRET, TICKET_SECRET):
            assert secret not in text, response.url


async def test_an_unreachable_provider_sends_the_page_an_explanation(api_factory: ApiClientFactory) -> None:
    api = await api_factory(**oidc_settings("http://127.0.0.1:9"))  # discard port: nobody listens
    assert_signed_out_to(await api.get("/admin/login"), "unavailable")


async def test_a_discovery_document_naming_another_issuer_is_not_trusted(
    api_factory: ApiClientFactory, provider: LocalOidcProvider
) -> None:
    # The same provider reached by another name: its document names the issuer it was built with.
    api = await api_factory(**oidc_settings(provider.issuer.replace("127.0.0.1", "localhost")))
    assert_signed_out_to(await api.get("/admin/login"), "unavailable")
