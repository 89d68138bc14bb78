"""A process's background loop: one asyncio task, started by its owner and cancelled on stop.

The flags refresher, the moderation view, the anomaly watch and the top publisher each run one:
what their loops do differs, starting and stopping them does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("scoreboard.background")

RECANCEL_AFTER_S = 1.0


async def cancel_and_wait(task: asyncio.Task[Any], *, recancel_after_s: float = RECANCEL_AFTER_S) -> None:
    """Cancel the task and wait until it has finished, so nothing it holds outlives the caller;
    raises what the task raised, if anything but its cancel."""
    task.cancel()
    await until_stopped(task, recancel_after_s=recancel_after_s)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def until_stopped(task: asyncio.Task[Any], *, recancel_after_s: float = RECANCEL_AFTER_S) -> None:
    """Wait for a cancelled task to finish, cancelling it again whenever it outlives
    `recancel_after_s`.

    A cancel can be lost inside a library: on Python 3.11 `asyncio.wait_for` hands back the
    result of an inner future that finished as the cancel arrived, and redis-py sends every
    command through it when a socket timeout is set. A loop that lost its cancel runs on, and a
    process waiting for it never exits (docs/decisions/0017-cancel-until-stopped.md).
    """
    while True:
        await asyncio.wait({task}, timeout=recancel_after_s)  # the caller's own cancel propagates
        if task.done():
            return
        log.warning("a task ignored its cancel: cancelling it again", extra={"task": task.get_name()})
        task.cancel()


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
