"""What the Chromium tests share: Debian's chromium driven through Playwright, and one person's
page in a browser of their own, with every script error and failed request kept.

Needs `apt-get install chromium` and `pip install playwright` (no `playwright install`): a test
module that imports this one is skipped where either is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install playwright)"
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# True once the demo page's board (<tbody id="board">) shows exactly the expected leading rows.
BOARD_STARTS_WITH_JS = """(expected) => {
  const rows = [...document.querySelectorAll('#board tr')].map((r) => [...r.cells].map((c) => c.textContent));
  return expected.every((row, i) => rows[i] && rows[i].join('\\u0000') === row.join('\\u0000'));
}"""


class WatchedPage:
    """One person's page; its script errors, console errors and failed requests land in `errors`."""

    def __init__(self, name: str, page: playwright_api.Page) -> None:
        self.name = name
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"{name}: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: playwright_api.ConsoleMessage) -> None:
        # A failed fetch is reported (with its URL) by _response; the browser's own line has none.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"{self.name}: console: {message.text}")

    def _response(self, response: playwright_api.Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{self.name}: {response.request.method} {response.url} -> {response.status}")

    async def text(self, selector: str) -> str:
        return (await self.page.text_content(selector)) or ""

    async def screenshot(self, filename: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / filename
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@asynccontextmanager
async def chromium_page(
    playwright: playwright_api.Playwright, profile: Path, width: int, height: int
) -> AsyncIterator[playwright_api.Page]:
    """The first page of a headless Chromium with a profile of its own, closed afterwards."""
    context = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height},
    )
    try:
        yield context.pages[0] if context.pages else await context.new_page()
    finally:
        await context.close()
