"""Fixtures of the end-to-end tests: the browser (playwright) and the boards' Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.servers import redis_client


@pytest.fixture
async def playwright() -> AsyncIterator[Any]:
    """Playwright's driver, for the Chromium browsers a test opens (tests/e2e/pages.py)."""
    # Imported here, not above: importing pages skips the importing module where Chromium or
    # Playwright is missing, and only the browser tests may be skipped for that.
    from tests.e2e.pages import playwright_api

    async with playwright_api.async_playwright() as driver:
        yield driver


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """The boards' Redis, as the services reach it (a Cluster's client on a Cluster run)."""
    client = redis_client(redis_url)
    yield client
    await client.aclose()
