"""A process's background loop: one asyncio task, started by its owner and cancelled on stop.

The flags refresher, the moderation view, the anomaly watch and the top publisher each run one:
what their loops do differs, starting and stopping them does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel the task and wait until it has finished, so nothing it holds outlives the caller."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class BackgroundLoop:
    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], *, name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop; a loop already running is left alone (never two at once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Cancel the loop and wait for it; nothing to do when it never started."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
