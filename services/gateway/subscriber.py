"""One connected client: a bounded queue in which the Top 10 is conflated to its latest state."""

from __future__ import annotations

import asyncio
from collections import deque

from services.gateway.frames import PING, Frame


class Subscriber:
    __slots__ = ("capacity", "closed", "overflowed", "ping_due", "queue", "skip_until", "user_id", "wake")

    def __init__(self, user_id: str | None, capacity: int) -> None:
        self.user_id = user_id
        self.capacity = capacity
        self.queue: deque[Frame] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False
        self.closed = False
        self.ping_due = False
        self.skip_until = (0, 0)  # already seen up to here (a resume from a gateway ahead of us)

    def offer(self, frame: Frame) -> None:
        if frame.id_key <= self.skip_until:
            return
        if frame.is_top:
            # Only the latest Top 10 matters: drop a queued older one, keep ids in stream order.
            for queued in self.queue:
                if queued.is_top:
                    self.queue.remove(queued)
                    break
        if len(self.queue) >= self.capacity:
            self.overflowed = True
        else:
            self.queue.append(frame)
        self.wake.set()

    def heartbeat(self) -> None:
        self.ping_due = True
        self.wake.set()

    def take(self) -> list[Frame]:
        frames = list(self.queue)
        self.queue.clear()
        self.wake.clear()
        return frames

    def take_payload(self) -> bytes:
        """Everything due to this client as one write: queued frames, else a heartbeat."""
        frames = self.take()
        due_ping, self.ping_due = self.ping_due, False
        if frames:
            return b"".join(frame.payload for frame in frames)
        return PING if due_ping else b""
