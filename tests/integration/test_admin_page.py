"""GET /admin: a static page under a strict Content-Security-Policy; without OIDC settings it
signs in with a pasted token only, and no cookie ever stands for an admin."""

from __future__ import annotations

import re

import httpx

from tests.integration.test_write_security import assert_error


async def test_the_page_and_its_assets_are_served_under_a_strict_policy(api: httpx.AsyncClient) -> None:
    page = await api.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    # Nothing inline, so the policy can forbid inline code: every script is a file, no style block.
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/admin/admin.js" defer>']
    assert "<style" not in page.text
    assert not re.search(r"<[^>]+\son\w+\s*=", page.text)  # no onclick= and the like
    script = await api.get("/admin/admin.js")
    styles = await api.get("/admin/admin.css")
    assert (script.status_code, styles.status_code) == (200, 200)
    assert script.headers["content-type"].startswith("text/javascript")
    assert styles.headers["content-type"].startswith("text/css")
    assert "innerHTML" not in script.text  # text goes in as text, never as markup


async def test_without_oidc_the_page_offers_the_pasted_token_alone(api: httpx.AsyncClient) -> None:
    session = await api.get("/admin/session")
    assert session.json() == {
        "oidc": False,
        "signedIn": False,
        "user": None,
        "csrfToken": None,
        "expiresAt": None,
    }
    assert "set-cookie" not in session.headers
    assert (await api.get("/admin/login")).status_code == 404
    assert (await api.get("/admin/callback?code=x&state=y")).status_code == 404


async def test_without_oidc_no_cookie_stands_for_an_admin(api: httpx.AsyncClient) -> None:
    cookies = {"cookie": "scoreboard-admin=eyJhZG1pbiI6IHt9fQ==.forged; session=forged"}
    response = await api.get("/api/admin/flags", headers=cookies)
    assert_error(response, 401, "UNAUTHENTICATED", "token_missing")
    assert (await api.post("/admin/logout", headers=cookies)).status_code == 204  # nothing to end
