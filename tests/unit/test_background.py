"""A background loop: started once however often asked, stopped by cancelling and waiting."""

from __future__ import annotations

import asyncio

from scoreboard.background import BackgroundLoop


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
