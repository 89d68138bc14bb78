"""One board as a gateway process holds it: its newest Top 10 and who is listening.

The Top 10 is state, versioned by the worker: only a newer version replaces it (two workers may
race, and a forced republish, e.g. after a privacy change, carries a higher version). The owners
index sends a user's own events to that user's connections alone.
"""

from __future__ import annotations

from services.gateway.frames import Frame
from services.gateway.subscriber import Subscriber


class BoardState:
    __slots__ = ("board_id", "owners", "published_ms", "subscribers", "top", "version")

    def __init__(self, board_id: str) -> None:
        self.board_id = board_id
        self.subscribers: set[Subscriber] = set()
        self.owners: dict[str, set[Subscriber]] = {}
        self.top: Frame | None = None
        self.version = -1
        self.published_ms = 0  # when the worker appended the current Top 10 (its stream id)

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        if subscriber.user_id:
            self.owners.setdefault(subscriber.user_id, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if subscriber.user_id and (owners := self.owners.get(subscriber.user_id)):
            owners.discard(subscriber)
            if not owners:
                del self.owners[subscriber.user_id]

    def update_top(self, top: Frame, version: int) -> bool:
        """Keep `top` if it is newer than the one held; True when it replaced it."""
        if version <= self.version:
            return False
        self.top, self.version = top, version
        self.published_ms = top.id_key[0]
        return True
