"""One connected client: written to inline while its socket keeps up, else two slots.

The fast path: the connection's own task sits in `receive()` (waiting for the client to leave)
while the reader (the owner's own events) and the pacer (the Top 10) write each frame straight to
the connection's ASGI `send` (services/gateway/inline_send.py): one call, no task switch. The
server's `send` only suspends when the socket's buffer is full; then the half-done write is handed
over to the connection's task ("kick": the task is cancelled out of `receive()`), and until that
task has caught up, what is due waits in two slots: the newest Top 10 and the owner's newest
event. Both are state ("the Top 10 is now...", "your score is now..."), so a newer one replaces
the one waiting: a lagging client holds at most two frames, never a backlog.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from services.gateway.frames import NEVER, PING, PING_CHUNK, PING_MESSAGE, Frame, TopOrder
from services.gateway.inline_send import HttptoolsCycle, PendingWrite, SendCoroutine, write_body


class Subscriber:
    __slots__ = (
        "board_id",
        "closed",
        "cycle",
        "deadline",
        "evicted",
        "expired",
        "idle",
        "kicked",
        "last_own_data",
        "own",
        "pending",
        "ping_due",
        "send",
        "skip_until",
        "task",
        "top",
        "top_at",
        "top_version",
        "user_id",
        "write_started",
    )

    def __init__(self, board_id: str, user_id: str | None) -> None:
        self.board_id = board_id
        self.user_id = user_id
        self.send: SendCoroutine | None = None
        self.cycle: HttptoolsCycle | None = None  # set once the body began: direct writes
        self.task: asyncio.Task[Any] | None = None  # the connection's task, once it streams
        self.idle = False  # its task waits in receive(): frames are written inline
        self.kicked = False  # its task was cancelled to make it look at the flags below
        self.pending: PendingWrite | None = None  # an inline write the socket could not take yet
        self.write_started = 0.0  # loop time a write still in progress began (0: none)
        self.deadline = math.inf  # loop time at which the client is asked to reconnect
        self.evicted = False  # one write stayed blocked longer than the send timeout
        self.expired = False  # the connection lifetime is reached
        self.closed = False
        self.ping_due = False
        self.top: Frame | None = None  # the newest Top 10, waiting while the client lags
        self.own: Frame | None = None  # the owner's newest event, waiting while the client lags
        self.last_own_data = b""  # the state the owner's last event announced
        self.top_version: TopOrder = NEVER  # the newest Top 10 handed to this client
        self.top_at = -math.inf  # loop time it was handed over (the pacer spaces them)
        self.skip_until = (0, 0)  # own events up to here were already sent (replayed, or resumed)

    def offer_top(self, frame: Frame, version: TopOrder, now: float) -> None:
        self.top_version = version
        self.top_at = now
        if self.idle and not self.kicked:
            self._write_now(frame.message, frame.chunk)
        else:
            self.top = frame  # replaces an older one still waiting

    def offer_own(self, frame: Frame) -> None:
        if frame.id_key <= self.skip_until or not self.news_to_owner(frame):
            return
        if self.idle and not self.kicked:
            self._write_now(frame.message, frame.chunk)
        else:
            self.own = frame  # the owner's newest score replaces an older one still waiting

    def news_to_owner(self, frame: Frame) -> bool:
        """False for the state the owner's last event announced, else True (and it is noted).

        The worker announces at least once: a job and the reconciler may both announce one
        state. The same state again (same score, same rank) tells the owner nothing.
        """
        if frame.data == self.last_own_data:
            return False
        self.last_own_data = frame.data
        return True

    def heartbeat(self) -> None:
        if self.idle and not self.kicked:
            self._write_now(PING_MESSAGE, PING_CHUNK)
        else:
            self.ping_due = True

    def kick(self) -> None:
        """Interrupt the connection's task (in receive(), or in a stuck write) to act on the flags."""
        if self.task is not None and not self.kicked:
            self.kicked = True
            self.task.cancel()

    def _write_now(self, message: dict[str, Any], chunk: bytes) -> None:
        assert self.send is not None
        try:
            pending = write_body(self.send, self.cycle, message, chunk)
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
        """Everything due to this client as one write, in stream order; else a heartbeat."""
        waiting = [frame for frame in (self.own, self.top) if frame is not None]
        self.own = self.top = None
        due_ping, self.ping_due = self.ping_due, False
        if waiting:
            waiting.sort(key=lambda frame: frame.id_key)
            return b"".join(frame.payload for frame in waiting)
        return PING if due_ping else b""
