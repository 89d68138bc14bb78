"""The worker exits on SIGTERM even when its arq loop lost the cancel arq sent it.

redis-py can lose a cancel on Python 3.11 (docs/decisions/0017-cancel-until-stopped.md); arq
cancels its loop once and then waits for it, so the process would never exit.
"""

from __future__ import annotations

import asyncio
import signal

from services.worker.context import WorkerContext
from services.worker.main import build_worker
from tests.lost_cancel import LosesItsFirstCancel


async def test_an_arq_loop_that_lost_its_cancel_is_cancelled_again(worker: WorkerContext) -> None:
    arq_worker = build_worker(worker.settings, worker)
    arq_loop = LosesItsFirstCancel()
    loop = asyncio.get_running_loop()
    try:
        arq_worker.main_task = asyncio.create_task(arq_loop.run())
        await asyncio.sleep(0)
        arq_worker.handle_sig(signal.SIGTERM)  # arq's own handler: cancel the loop once, then on_stop
        done, _ = await asyncio.wait({arq_worker.main_task}, timeout=10)
        assert done, "the loop still runs: the process would never exit"
        assert arq_worker.main_task.cancelled()
        assert arq_loop.cancels_seen == 2
    finally:
        for handled in (signal.SIGINT, signal.SIGTERM):  # arq installed its handlers on our loop
            loop.remove_signal_handler(handled)
