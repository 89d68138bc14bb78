"""A lean SSE response: one writer per connection, frames encoded once, no per-client timers.

sse-starlette's EventSourceResponse runs a generator plus ping, disconnect and shutdown tasks per
connection; at 10,000 clients those tasks and their frames dominate memory and CPU (see
docs/PERFORMANCE.md). Here each connection is its own ASGI call that writes the shared,
pre-encoded frames of its Subscriber, one small task watches for the disconnect, and the
heartbeat is a single timer in the Broadcaster that marks every subscriber. The SSE wire format
still comes from sse-starlette's encoder (services/gateway/frames.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.gateway.subscriber import Subscriber

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


class SubscriberStream(Response):
    def __init__(
        self,
        subscriber: Subscriber,
        initial: list[bytes],
        *,
        deadline: float,
        send_timeout_s: float,
        draining: Callable[[], bool],
        goodbye: Callable[[str], bytes],
        on_close: Callable[[Subscriber, bool], None],
    ) -> None:
        self.status_code = 200
        self.background = None
        self.subscriber = subscriber
        self.initial = initial
        self.deadline = deadline  # loop time at which the client is asked to reconnect
        self.send_timeout_s = send_timeout_s
        self.draining = draining
        self.goodbye = goodbye
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.create_task(self._watch_disconnect(receive))
        stuck = False
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            stuck = await self._write_all(send)
        finally:
            watcher.cancel()
            self.on_close(self.subscriber, stuck)
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.subscriber.closed = True
        self.subscriber.wake.set()

    async def _write(self, send: Send, payload: bytes) -> None:
        async with asyncio.timeout(self.send_timeout_s):  # a client that stopped reading
            await send({"type": "http.response.body", "body": payload, "more_body": True})

    async def _write_all(self, send: Send) -> bool:
        """Write until the client leaves, is evicted, or is asked to reconnect; True if stuck."""
        subscriber = self.subscriber
        try:
            if self.initial:
                await self._write(send, b"".join(self.initial))
            while not subscriber.closed and not subscriber.overflowed:
                if self.draining():
                    await self._write(send, self.goodbye("server draining"))
                    return False
                try:
                    async with asyncio.timeout_at(self.deadline):
                        await subscriber.wake.wait()
                except TimeoutError:
                    await self._write(send, self.goodbye("connection lifetime reached"))
                    return False
                payload = subscriber.take_payload()
                if payload:
                    await self._write(send, payload)
        except TimeoutError:
            return True
        return False
