"""One connected client: written to inline while its socket keeps up, else a bounded queue.

The fast path: the connection's own task sits in `receive()` (waiting for the client to leave)
and the reader writes each shared frame straight to the connection's ASGI `send` as it arrives:
one call, no task switch, no wake-up. The server's `send` only suspends when the socket's
buffer is full; then the half-done write is handed over to the connection's task ("kick": the
task is cancelled out of `receive()`), and until that task has caught up, frames queue here,
the Top 10 conflated to its latest state, bounded by `capacity` (beyond it: eviction).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from services.gateway.frames import PING, PING_MESSAGE, Frame
from services.gateway.inline_send import PendingWrite, SendCoroutine, send_now


class Subscriber:
    __slots__ = (
        "capacity",
        "closed",
        "deadline",
        "evicted",
        "expired",
        "idle",
        "kicked",
        "overflowed",
        "pending",
        "ping_due",
        "queue",
        "send",
        "skip_until",
        "task",
        "user_id",
        "write_started",
    )

    def __init__(self, user_id: str | None, capacity: int) -> None:
        self.user_id = user_id
        self.capacity = capacity
        self.queue: list[Frame] | None = None  # allocated only while the client lags
        self.send: SendCoroutine | None = None
        self.task: asyncio.Task[Any] | None = None  # the connection's task, once it streams
        self.idle = False  # its task waits in receive(): frames are written inline
        self.kicked = False  # its task was cancelled to make it look at the flags below
        self.pending: PendingWrite | None = None  # an inline write the socket could not take yet
        self.write_started = 0.0  # loop time a write still in progress began (0: none)
        self.deadline = math.inf  # loop time at which the client is asked to reconnect
        self.overflowed = False
        self.evicted = False  # one write stayed blocked longer than the send timeout
        self.expired = False  # the connection lifetime is reached
        self.closed = False
        self.ping_due = False
        self.skip_until = (0, 0)  # already seen up to here (a resume from a gateway ahead of us)

    def offer(self, frame: Frame) -> None:
        if frame.id_key <= self.skip_until:
            return
        if self.idle and not self.kicked:
            self._write_now(frame.message)
            return
        queue = self.queue
        if queue is None:
            self.queue = [frame]
            return
        if frame.is_top:
            # Only the latest Top 10 matters: drop a queued older one, keep ids in stream order.
            for index, queued in enumerate(queue):
                if queued.is_top:
                    del queue[index]
                    break
        if len(queue) >= self.capacity:
            self.overflowed = True
            self.kick()
        else:
            queue.append(frame)

    def heartbeat(self) -> None:
        if self.idle and not self.kicked:
            self._write_now(PING_MESSAGE)
        else:
            self.ping_due = True

    def kick(self) -> None:
        """Interrupt the connection's task (in receive(), or in a stuck write) to act on the flags."""
        if self.task is not None and not self.kicked:
            self.kicked = True
            self.task.cancel()

    def _write_now(self, message: dict[str, Any]) -> None:
        assert self.send is not None
        try:
            pending = send_now(self.send, message)
        except Exception:
            self.closed = True
            self.kick()
            return
        if pending is None:
            return  # written (the common case)
        self.pending = pending
        self.write_started = asyncio.get_running_loop().time()
        self.kick()

    def take_payload(self) -> bytes:
        """Everything due to this client as one write: queued frames, else a heartbeat."""
        queue, self.queue = self.queue, None
        due_ping, self.ping_due = self.ping_due, False
        if queue:
            return b"".join(frame.payload for frame in queue)
        return PING if due_ping else b""
