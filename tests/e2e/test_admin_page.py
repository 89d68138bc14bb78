"""The admin page in a real headless Chromium, against the API, worker and gateway as processes.

An admin signs in with a pasted token and switches a flag; an admin signs in by OIDC at a
provider on another site (`localhost` against the API's `127.0.0.1`), so the flow cookie really
crosses sites and the SameSite=Strict session is used by the page's own requests. Screenshots
go to test-artifacts/ (tests/e2e/pages.py: how Chromium is driven).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from devstack.processes import ServiceProcess, free_port
from tests.e2e.pages import BOARD_STARTS_WITH_JS, WatchedPage, chromium_page, playwright_api
from tests.e2e.stacks import page_stack
from tests.factories import Player, token
from tests.oidc_provider import LocalOidcProvider, Person, serving

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

WAIT_MS = 15_000
CLIENT_ID = "scoreboard-admin-page"
CLIENT_SECRET = "e2e-oidc-client-secret-0123456789abcdef"
ADA = Person(sub=str(uuid.uuid4()), name="Ada", roles=("scoreboard:admin",))


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    with page_stack(database_url, redis_url, tmp_path) as services:
        yield services


class Browser(WatchedPage):
    """One person's Chromium, with a profile of its own, on the admin page or the demo page."""

    async def wait_for(self, script: str, what: str, arg: object = None, timeout_ms: int = WAIT_MS) -> None:
        try:
            await self.page.wait_for_function(script, arg=arg, timeout=timeout_ms)
        except playwright_api.TimeoutError:
            notice = await self.text("#notice")
            pytest.fail(f"{self.name}: {what} did not happen: notice={notice!r} errors={self.errors}")

    async def signed_in(self, name: str) -> None:
        await self.wait_for(
            "(name) => !document.getElementById('console').hidden"
            " && document.getElementById('who').textContent.startsWith('signed in as ' + name)",
            f"signed in as {name}",
            name,
        )


@asynccontextmanager
async def browser(playwright: playwright_api.Playwright, name: str, profile: Path) -> AsyncIterator[Browser]:
    async with chromium_page(playwright, profile, 1100, 800) as page:
        yield Browser(name, page)


async def sign_in_with_token(admin: Browser, api: str, name: str) -> None:
    await admin.page.goto(f"{api}/admin")
    await admin.page.wait_for_selector("#token-form", state="visible")
    await admin.page.fill("#token", token(uuid.uuid4(), name, ttl_s=600, admin=True))
    await admin.page.click("#token-form button[type=submit]")
    await admin.signed_in(name)


async def apply_flag_change(admin: Browser, reason: str) -> None:
    """Switch increments off with a reason; wait until the page shows the new version and the
    audit tail shows the change."""
    await admin.wait_for(
        "() => document.getElementById('flags-version').textContent === 'version 1'", "flags"
    )
    assert await admin.page.is_checked("#flag-increments")
    await admin.page.uncheck("#flag-increments")
    await admin.page.fill("#flags-reason", reason)
    await admin.page.click("#flags-form button[type=submit]")
    await admin.wait_for(
        "() => document.getElementById('flags-version').textContent === 'version 2'", "the flag change"
    )
    await admin.wait_for(
        "(reason) => [...document.querySelectorAll('#audit tr')]"
        ".some((row) => row.textContent.includes(reason))",
        "the audit row",
        reason,
    )
    assert not await admin.page.is_checked("#flag-increments")


async def test_an_admin_signs_in_with_a_token_and_switches_increments_off(
    stack: dict[str, ServiceProcess], playwright: playwright_api.Playwright, tmp_path: Path
) -> None:
    api = stack["api"].url
    async with browser(playwright, "Ops", tmp_path / "ops") as ops:
        await sign_in_with_token(ops, api, "Ops")
        assert await ops.page.is_hidden("#sso")  # no OIDC configured: the pasted token alone
        await apply_flag_change(ops, "database upgrade, OPS-1")
        assert "Flags applied" in await ops.text("#notice")
        await ops.screenshot("admin-page-flags.png")
        stored = await ops.page.evaluate("() => sessionStorage.getItem('scoreboard-admin-token')")
        assert stored  # kept by this tab only
        assert await ops.page.evaluate("() => document.cookie") == ""

        await ops.page.reload()  # the tab keeps its token
        await ops.signed_in("Ops")
        await ops.page.click("#sign-out")
        await ops.wait_for("() => !document.getElementById('sign-in').hidden", "signed out")
        assert await ops.page.evaluate("() => sessionStorage.getItem('scoreboard-admin-token')") is None
        await ops.screenshot("admin-page-signed-out.png")
        assert ops.errors == []


async def test_a_non_admin_token_is_refused_on_the_page(
    stack: dict[str, ServiceProcess], playwright: playwright_api.Playwright, tmp_path: Path
) -> None:
    api = stack["api"].url
    async with browser(playwright, "Eve", tmp_path / "eve") as eve:
        await eve.page.goto(f"{api}/admin")
        await eve.page.fill("#token", token(uuid.uuid4(), "Eve", ttl_s=600))
        await eve.page.click("#token-form button[type=submit]")
        await eve.wait_for(
            "() => document.getElementById('notice').textContent.includes('not an admin')", "the refusal"
        )
        assert await eve.page.is_hidden("#console")
        assert await eve.page.evaluate("() => sessionStorage.getItem('scoreboard-admin-token')") is None


@pytest.fixture
async def provider() -> AsyncIterator[LocalOidcProvider]:
    provider = LocalOidcProvider(people={"ada": ADA})
    async with serving(provider, host="localhost"):  # another site than the API's 127.0.0.1
        yield provider


@pytest.fixture
def oidc_stack(
    database_url: str, redis_url: str, tmp_path: Path, provider: LocalOidcProvider
) -> Iterator[dict[str, ServiceProcess]]:
    port = free_port()  # the API's origin is part of its settings, so it is chosen first
    public_url = f"http://127.0.0.1:{port}"
    provider.add_client(CLIENT_ID, CLIENT_SECRET, f"{public_url}/admin/callback")
    api_env = {
        "SCOREBOARD_ADMIN_OIDC_ISSUER": provider.issuer,
        "SCOREBOARD_ADMIN_OIDC_CLIENT_ID": CLIENT_ID,
        "SCOREBOARD_ADMIN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SCOREBOARD_ADMIN_PUBLIC_URL": public_url,
        "SCOREBOARD_ADMIN_SESSION_SECRET": "e2e-admin-session-secret-0123456789abcdef",
    }
    with page_stack(database_url, redis_url, tmp_path, api_env=api_env, api_port=port) as services:
        yield services


async def test_an_admin_signs_in_by_oidc_at_a_provider_on_another_site(
    oidc_stack: dict[str, ServiceProcess],
    playwright: playwright_api.Playwright,
    provider: LocalOidcProvider,
    tmp_path: Path,
) -> None:
    api = oidc_stack["api"].url
    async with browser(playwright, "Ada", tmp_path / "ada") as ada:
        await ada.page.goto(f"{api}/admin")
        await ada.page.click("#sso-login")
        await ada.page.wait_for_url(f"{provider.issuer}/authorize?**")
        await ada.page.click("button[value=ada]")  # the provider's login page
        await ada.page.wait_for_url(f"{api}/admin")
        await ada.signed_in("Ada")

        cookies = {cookie["name"]: cookie for cookie in await ada.page.context.cookies(api)}
        assert set(cookies) == {"scoreboard-admin"}  # the flow cookie was spent by the callback
        assert cookies["scoreboard-admin"]["httpOnly"] is True
        assert cookies["scoreboard-admin"]["sameSite"] == "Strict"
        assert await ada.page.evaluate("() => document.cookie") == ""  # out of the scripts' reach
        assert await ada.page.evaluate("() => sessionStorage.length") == 0

        await apply_flag_change(ada, "switched off through SSO")
        await ada.page.click("#sign-out")
        await ada.wait_for("() => !document.getElementById('sign-in').hidden", "signed out")
        await ada.page.reload()
        await ada.wait_for("() => !document.getElementById('sign-in').hidden", "still signed out")
        assert ada.errors == []


async def propose(admin: Browser, user_id: str, delta: int, reason: str) -> str:
    """Admin proposes an adjustment on the global board; returns its id once it is pending."""
    await admin.page.fill("#adjust-user", user_id)
    await admin.page.select_option("#adjust-board", "global")
    await admin.page.fill("#adjust-delta", str(delta))
    await admin.page.fill("#adjust-reason", reason)
    await admin.page.click("#propose-form button[type=submit]")
    await admin.wait_for("() => document.querySelector('#pending tr[data-id]') !== null", "the proposal")
    return str(await admin.page.get_attribute("#pending tr[data-id]", "data-id"))


async def decide(admin: Browser, adjustment_id: str, verb: str, reason: str) -> None:
    await admin.wait_for(
        "(id) => document.querySelector(`#pending tr[data-id='${id}']`) !== null",
        f"adjustment {adjustment_id} pending on the page",
        adjustment_id,
    )
    await admin.page.fill("#review-reason", reason)
    await admin.page.click(f"#pending tr[data-id='{adjustment_id}'] button[data-action={verb}]")


async def test_two_admins_carry_an_adjustment_and_a_public_board_shows_it_live(
    stack: dict[str, ServiceProcess], playwright: playwright_api.Playwright, tmp_path: Path
) -> None:
    api = stack["api"].url
    async with AsyncExitStack() as browsers:
        ann = await browsers.enter_async_context(browser(playwright, "Ann", tmp_path / "ann"))
        alice = await browsers.enter_async_context(browser(playwright, "Alice", tmp_path / "alice"))
        bob = await browsers.enter_async_context(browser(playwright, "Bob", tmp_path / "bob"))

        # A player on the public demo page, with one point on the global board.
        await ann.page.goto(f"{api}/?name=Ann")
        await ann.wait_for("() => document.getElementById('status').textContent === 'live'", "a live board")
        await ann.page.click("#play")
        await ann.wait_for(BOARD_STARTS_WITH_JS, "Ann's first point", [["1", "Ann", "1"]])
        ann_id = await ann.page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('scoreboard-session')).userId"
        )

        await sign_in_with_token(alice, api, "Alice")
        await sign_in_with_token(bob, api, "Bob")
        adjustment = await propose(alice, ann_id, 41, "tournament prize, TICKET-7")
        assert "another admin must approve" in await alice.text("#notice")

        # The two-person rule, on the page: Alice cannot approve her own proposal.
        await decide(alice, adjustment, "approve", "looks right to me")
        await alice.wait_for(
            "() => document.getElementById('notice').className === 'error'", "Alice's refusal"
        )
        assert "another admin" in await alice.text("#notice")
        assert await ann.page.evaluate(BOARD_STARTS_WITH_JS, [["1", "Ann", "1"]])

        await bob.wait_for(
            "(id) => document.querySelector(`#pending tr[data-id='${id}']`) !== null",
            "the pending row",
            adjustment,
        )
        await bob.wait_for(  # another admin's proposal shows in the audit tail too
            "() => [...document.querySelectorAll('#audit tr')]"
            ".some((row) => row.textContent.includes('adjustment.propose'))",
            "the proposal in Bob's audit tail",
        )
        await bob.screenshot("admin-page.png")  # docs/admin-page.png is a copy of it
        await decide(bob, adjustment, "approve", "checked against TICKET-7")
        await bob.wait_for(
            "() => document.getElementById('notice').textContent.startsWith('Approved')", "Bob's approval"
        )
        await ann.wait_for(BOARD_STARTS_WITH_JS, "the adjusted score, live", [["1", "Ann", "42"]])
        await ann.wait_for(
            "() => document.getElementById('my-score').textContent === '42'", "Ann's own score"
        )

        await bob.wait_for(
            "() => document.querySelector('#pending tr[data-id]') === null", "an empty pending list"
        )
        await alice.wait_for(
            "() => document.querySelector('#pending tr[data-id]') === null", "Alice's list too"
        )
        audit = await bob.page.evaluate(
            "() => [...document.querySelectorAll('#audit tr')].map((row) => row.cells[2].textContent)"
        )
        assert audit[:2] == ["adjustment.approve", "adjustment.propose"], audit
        refused = [error for error in alice.errors if error.endswith("/approve -> 403")]
        assert len(refused) == 1, alice.errors
        assert [e for e in alice.errors if e not in refused] + bob.errors + ann.errors == []


@pytest.fixture
def watched_stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    """The worker's anomaly detector on: more than 2 points a minute is suspicious."""
    rules = {"SCOREBOARD_ANOMALY_RULES": json.dumps({"overall": {"per_minute": 2}})}
    with page_stack(database_url, redis_url, tmp_path, worker_env=rules) as services:
        yield services


BOARD_IS_EMPTY_JS = "() => document.querySelectorAll('#board tr').length === 0"


async def test_an_admin_clears_a_review_then_bans_and_unbans_the_player(
    watched_stack: dict[str, ServiceProcess], playwright: playwright_api.Playwright, tmp_path: Path
) -> None:
    api = watched_stack["api"].url
    ann = Player("Ann")  # plays through her game's backend, as real players do
    async with AsyncExitStack() as browsers:
        zoe = await browsers.enter_async_context(browser(playwright, "Zoe", tmp_path / "zoe"))
        ops = await browsers.enter_async_context(browser(playwright, "Ops", tmp_path / "ops"))
        await zoe.page.goto(f"{api}/?name=Zoe")  # the public board, live
        await zoe.wait_for("() => document.getElementById('status').textContent === 'live'", "a live board")
        await sign_in_with_token(ops, api, "Ops")

        async with httpx.AsyncClient(base_url=api, timeout=10) as client:
            for _ in range(3):  # 3 points within a minute: over the rule
                assert (await ann.play(client)).status_code == 200
        # Quarantined (within 10 s of the crossing), hidden from the public board, in the queue.
        await zoe.wait_for(BOARD_IS_EMPTY_JS, "Ann hidden from the public board", timeout_ms=30_000)
        await ops.wait_for(
            "() => document.querySelector('#reviews tr[data-id]') !== null", "the review", timeout_ms=30_000
        )
        assert "overall.per_minute" in await ops.text("#reviews tr[data-id]")
        await ops.page.fill("#reviews-reason", "a tournament burst, not a bot")
        await ops.page.click("#reviews tr[data-id] button[data-action=clear]")
        await zoe.wait_for(BOARD_STARTS_WITH_JS, "Ann shown again", [["1", "Ann", "3"]])
        await ops.wait_for("() => document.querySelector('#reviews tr[data-id]') === null", "an empty queue")

        await ops.page.fill("#ban-user", str(ann.user_id))
        await ops.page.fill("#ban-reason", "chargeback fraud, TICKET-9")
        await ops.page.click("#ban-form button[data-verb=ban]")
        await zoe.wait_for(BOARD_IS_EMPTY_JS, "Ann banned from the public board")
        await ops.page.fill("#ban-reason", "chargeback reversed")
        await ops.page.click("#ban-form button[data-verb=unban]")
        await zoe.wait_for(BOARD_STARTS_WITH_JS, "Ann back with her score", [["1", "Ann", "3"]])

        await ops.wait_for(
            "() => [...document.querySelectorAll('#audit tr')].slice(0, 3)"
            ".map((row) => row.cells[2].textContent)"
            ".join() === 'user.unban,user.ban,review.clear'",
            "the three actions in the audit tail",
        )
        assert ops.errors + zoe.errors == []
