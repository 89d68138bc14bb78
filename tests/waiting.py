"""Waiting on a condition instead of sleeping a guessed time: poll until it holds, or fail
saying what was last seen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.02,
) -> T:
    """The first value of `probe()` for which `until` holds."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout_s} s; last seen: {value!r}")
        await asyncio.sleep(interval_s)
