"""A lean SSE response: one task per connection, frames encoded once and written inline.

sse-starlette's EventSourceResponse runs a generator plus ping, disconnect and shutdown tasks per
connection; at 10,000 clients those tasks and their frames dominate memory and CPU (see
docs/PERFORMANCE.md). Here the connection's task writes the greeting, then waits in `receive()`
for the client to leave while the Broadcaster (own events) and the pacer (the Top 10) write each
shared, pre-encoded frame straight to its `send` (services/gateway/subscriber.py). The task only
writes itself when the socket lags behind (it is "kicked" out of `receive()`: cancelled and
un-cancelled), for the goodbye (drain, lifetime), and when its client is evicted. The heartbeat,
the send timeout and the lifetime cap are one timer each in the Broadcaster, not per connection.
The SSE wire format still comes from sse-starlette's encoder (services/gateway/frames.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from starlette.types import Receive, Send

from services.gateway.frames import body_message
from services.gateway.inline_send import SendCoroutine, direct_cycle, finish
from services.gateway.subscriber import Subscriber

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


class SubscriberStream:
    __slots__ = ("draining", "goodbye", "headers", "initial", "on_close", "subscriber")

    def __init__(
        self,
        subscriber: Subscriber,
        initial: list[bytes],
        *,
        headers: list[tuple[bytes, bytes]],
        draining: Callable[[], bool],
        goodbye: Callable[[str], bytes],
        on_close: Callable[[Subscriber, bool], None],
    ) -> None:
        self.subscriber = subscriber
        self.initial: list[bytes] | None = initial
        self.headers: list[tuple[bytes, bytes]] | None = headers
        self.draining = draining
        self.goodbye = goodbye
        self.on_close = on_close

    async def __call__(self, receive: Receive, send: Send) -> None:
        subscriber = self.subscriber
        subscriber.send = cast(SendCoroutine, send)
        subscriber.task = asyncio.current_task()
        evicted = True
        try:
            await self._serve(receive, send)
            evicted = subscriber.evicted
        finally:
            subscriber.idle = False
            subscriber.task = None
            if subscriber.pending is not None:
                subscriber.pending.close()
                subscriber.pending = None
            self.on_close(subscriber, evicted)
        await finish(send)

    async def _serve(self, receive: Receive, send: Send) -> None:
        """Stream until the client leaves, is evicted, or is asked to reconnect."""
        task = asyncio.current_task()
        assert task is not None
        subscriber = self.subscriber
        while True:
            try:
                if await self._step(receive, send):
                    return
            except asyncio.CancelledError:
                if not subscriber.kicked:
                    raise
                subscriber.kicked = False
                if task.uncancel() > 0:
                    raise  # also cancelled by somebody else (the server shutting down)

    async def _step(self, receive: Receive, send: Send) -> bool:
        """One write, or one wait for the client to leave; True when the stream is over."""
        subscriber = self.subscriber
        if subscriber.closed or subscriber.evicted:
            return True
        if self.headers is not None:  # the greeting: headers, then the snapshot or what was missed
            headers, self.headers = self.headers, None
            await self._write(send, {"type": "http.response.start", "status": 200, "headers": headers})
            subscriber.cycle = direct_cycle(cast(SendCoroutine, send))
            return False
        if self.initial is not None:
            initial, self.initial = b"".join(self.initial), None
            await self._write(send, body_message(initial))
            return False
        if self.draining():
            await self._write(send, body_message(self.goodbye("server draining")))
            return True
        if subscriber.expired:
            await self._write(send, body_message(self.goodbye("connection lifetime reached")))
            return True
        if subscriber.pending is not None:
            pending, subscriber.pending = subscriber.pending, None  # write_started is already set
            try:
                await pending
            finally:
                subscriber.write_started = 0.0
            return False
        payload = subscriber.take_payload()
        if payload:
            await self._write(send, body_message(payload))
            return False
        subscriber.idle = True  # from now on the Broadcaster writes inline
        try:
            message = await receive()
        finally:
            subscriber.idle = False
        if message["type"] == "http.disconnect":
            subscriber.closed = True
            return True
        return False

    async def _write(self, send: Send, message: dict[str, Any]) -> None:
        subscriber = self.subscriber
        subscriber.write_started = asyncio.get_running_loop().time()  # watched by the sweeper
        try:
            await send(message)
        finally:
            subscriber.write_started = 0.0
