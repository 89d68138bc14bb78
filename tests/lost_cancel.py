"""A loop that loses the first cancel it gets, as redis-py makes one do now and then on Python
3.11 (docs/decisions/0017-cancel-until-stopped.md): what stopping a task must survive."""

from __future__ import annotations

import asyncio


class LosesItsFirstCancel:
    def __init__(self) -> None:
        self.cancels_seen = 0

    async def run(self) -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                self.cancels_seen += 1
                if self.cancels_seen > 1:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
