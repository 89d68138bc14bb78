"""A background loop: started once however often asked, stopped by cancelling and waiting."""

from __future__ import annotations

import asyncio

import pytest

from scoreboard.background import BackgroundLoop, cancel_and_wait
from tests.lost_cancel import LosesItsFirstCancel


class Ticker:
    """A loop that counts its runs and notes that it was cancelled (what `stop` must wait for)."""

    def __init__(self) -> None:
        self.runs = 0
        self.cancelled = False

    async def run(self) -> None:
        self.runs += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_second_start_while_running_starts_nothing() -> None:
    ticker = Ticker()
    loop = BackgroundLoop(ticker.run, name="ticker")
    loop.start()
    loop.start()
    await asyncio.sleep(0)
    assert ticker.runs == 1
    await loop.stop()


async def test_stop_returns_once_the_loop_has_finished_and_it_can_start_again() -> None:
    ticker = Ticker()
    loop = BackgroundLoop(ticker.run, name="ticker")
    loop.start()
    await asyncio.sleep(0)
    await loop.stop()
    assert ticker.cancelled
    loop.start()
    await asyncio.sleep(0)
    assert ticker.runs == 2
    await loop.stop()


async def test_stop_without_start_does_nothing() -> None:
    ticker = Ticker()
    await BackgroundLoop(ticker.run, name="ticker").stop()
    assert (ticker.runs, ticker.cancelled) == (0, False)


async def test_a_task_that_lost_its_cancel_is_cancelled_again_until_it_stops() -> None:
    """What redis-py does on Python 3.11 now and then (docs/decisions/0017-cancel-until-stopped.md)."""
    lossy = LosesItsFirstCancel()
    task = asyncio.create_task(lossy.run())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_and_wait(task, recancel_after_s=0.01))
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert done, "still waiting for a task that lost its cancel"
    assert task.cancelled()
    assert lossy.cancels_seen == 2


async def test_cancel_and_wait_raises_what_the_task_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(task)
