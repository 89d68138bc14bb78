"""The demo page in a real headless Chromium: two players, one click, both Top 10 tables change.

The acceptance check from the issue: "click, and see the Top 10 on the page change within 1 s", with
a screenshot of each page kept under test-artifacts/ (tests/e2e/pages.py: how Chromium is driven).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from devstack.processes import ServiceProcess
from services.cli.dev import SHOWCASE_BOARDS
from tests.e2e.pages import BOARD_STARTS_WITH_JS, WatchedPage, chromium_page, playwright_api
from tests.e2e.stacks import page_stack

# scoreboard dev's boards, with a sprint long enough not to roll over while a test looks at it.
SPRINT = SHOWCASE_BOARDS["sprint"] | {"window": {"seconds": 86_400, "anchor": "2026-01-01T00:00:00Z"}}
BOARDS = SHOWCASE_BOARDS | {"sprint": SPRINT}
# The issue asks for the Top 10 to change within 1 s of the click; every local run is far below it.
CLICK_TO_UPDATE_LIMIT_S = 1.0
WAIT_S = 5.0

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(60)]

# The rows of <tbody id="board">, as [rank, player, score] texts.
BOARD_JS = (
    "() => [...document.querySelectorAll('#board tr')].map((r) => [...r.cells].map((c) => c.textContent))"
)
SHOWCASE_ENV = {"SCOREBOARD_BOARDS": json.dumps(BOARDS)}


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    with page_stack(database_url, redis_url, tmp_path, extra_env=SHOWCASE_ENV) as services:
        yield services


@pytest.fixture
def short_lived_streams(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[dict[str, ServiceProcess]]:
    """Stream tokens expire (5 s + 5 s leeway) before the gateway ends each stream (after ~11-12 s)."""
    api_env = {"SCOREBOARD_REALTIME_TOKEN_TTL_S": "5"}
    gateway_env = {"SCOREBOARD_SSE_MAX_LIFETIME_S": "12", "SCOREBOARD_SSE_RETRY_MS": "200"}
    with page_stack(
        database_url, redis_url, tmp_path, extra_env=SHOWCASE_ENV, api_env=api_env, gateway_env=gateway_env
    ) as services:
        yield services


class Player(WatchedPage):
    """One person with the demo page open in their own Chromium, with a fresh profile."""

    async def board(self) -> list[list[str]]:
        return await self.page.evaluate(BOARD_JS)

    async def status(self) -> str:
        return await self.text("#status")

    async def wait_for_board(self, *rows: list[str], since: float) -> float:
        """Seconds from `since` until the board starts with `rows`; fails after WAIT_S."""
        try:
            await self.page.wait_for_function(
                BOARD_STARTS_WITH_JS, arg=[list(row) for row in rows], polling=10, timeout=WAIT_S * 1000
            )
        except playwright_api.TimeoutError:
            pytest.fail(
                f"{self.name}'s Top 10 did not show {rows} within {WAIT_S} s: board={await self.board()} "
                f"status={await self.status()!r} errors={self.errors}"
            )
        return time.monotonic() - since

    async def play(self) -> float:
        started = time.monotonic()
        await self.page.click("#play")
        return started


@asynccontextmanager
async def _open_page(
    playwright: playwright_api.Playwright, url: str, name: str, profile: Path
) -> AsyncIterator[Player]:
    async with chromium_page(playwright, profile, 800, 600) as page:
        player = Player(name, page)
        await page.goto(f"{url}/?name={name}")
        yield player


async def _live(player: Player) -> None:
    try:
        await player.page.wait_for_function(
            "() => document.getElementById('status').textContent === 'live'", timeout=15_000
        )
    except playwright_api.TimeoutError:
        pytest.fail(f"{player.name}'s page never went live: {await player.status()!r} {player.errors}")


async def test_a_click_changes_both_players_top_10(
    stack: dict[str, ServiceProcess],
    playwright: playwright_api.Playwright,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    api = stack["api"].url
    async with AsyncExitStack() as stack_of_browsers:
        ann = await stack_of_browsers.enter_async_context(
            _open_page(playwright, api, "Ann", tmp_path / "ann")
        )
        ben = await stack_of_browsers.enter_async_context(
            _open_page(playwright, api, "Ben", tmp_path / "ben")
        )
        await asyncio.gather(_live(ann), _live(ben))
        assert await ann.page.text_content("#me") == "Ann"
        assert await ben.page.text_content("#me") == "Ben"
        assert await ann.board() == await ben.board() == []

        clicked = await ann.play()
        ann_s, ben_s = await asyncio.gather(
            ann.wait_for_board(["1", "Ann", "1"], since=clicked),
            ben.wait_for_board(["1", "Ann", "1"], since=clicked),
        )
        record_property("click_to_update_s", {"Ann": round(ann_s, 3), "Ben": round(ben_s, 3)})
        print(f"click to Top 10 update: Ann's page {ann_s:.3f} s, Ben's page {ben_s:.3f} s")
        assert ben_s < CLICK_TO_UPDATE_LIMIT_S, f"Ben saw Ann's point after {ben_s:.3f} s"
        assert ann_s < CLICK_TO_UPDATE_LIMIT_S, f"Ann saw her own point after {ann_s:.3f} s"
        await ann.page.wait_for_function("() => document.getElementById('my-score').textContent === '1'")

        clicked = await ben.play()
        await ben.play()
        await asyncio.gather(
            ann.wait_for_board(["1", "Ben", "2"], ["2", "Ann", "1"], since=clicked),
            ben.wait_for_board(["1", "Ben", "2"], ["2", "Ann", "1"], since=clicked),
        )
        await ben.page.wait_for_function("() => document.getElementById('my-score').textContent === '2'")
        assert await ann.board() == [["1", "Ben", "2"], ["2", "Ann", "1"]]
        assert await ann.page.get_attribute("#board tr:nth-child(2)", "class") == "me"
        assert await ben.page.get_attribute("#board tr:nth-child(1)", "class") == "me"

        # Another board: every point counts on the sprint board too, in its current window.
        await ann.page.select_option("#boards", "sprint")
        await ann.page.wait_for_function(
            "() => document.getElementById('window').textContent.startsWith('window 20')"
        )
        await ann.wait_for_board(["1", "Ben", "2"], ["2", "Ann", "1"], since=time.monotonic())
        await ann.page.wait_for_function("() => document.getElementById('my-score').textContent === '1'")
        await _live(ann)

        for player in (ann, ben):
            assert await player.status() == "live", player.errors
            await player.screenshot(f"demo-page-{player.name.lower()}.png")
        assert ann.errors + ben.errors == []


async def test_the_page_stays_live_after_the_gateway_refuses_its_expired_stream_token(
    short_lived_streams: dict[str, ServiceProcess], playwright: playwright_api.Playwright, tmp_path: Path
) -> None:
    api = short_lived_streams["api"].url
    async with _open_page(playwright, api, "Ann", tmp_path / "Ann") as ann:
        await _live(ann)
        # The gateway ends the stream; EventSource retries with its old URL, whose token has expired.
        async with ann.page.expect_response(
            lambda response: "/api/realtime/stream" in response.url and response.status == 401,
            timeout=20_000,
        ):
            pass
        await _live(ann)  # on a fresh token
        clicked = await ann.play()
        await ann.wait_for_board(["1", "Ann", "1"], since=clicked)
        refused = [error for error in ann.errors if "/api/realtime/stream" in error and error.endswith("401")]
        assert refused, ann.errors
        assert [error for error in ann.errors if error not in refused] == []
