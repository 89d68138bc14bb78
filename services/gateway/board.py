"""One board as a gateway process holds it: the newest Top 10 of its current window, and who
is listening.

The Top 10 is state, versioned by the worker within a window: only a newer version replaces it
(two workers may race, and a forced republish, e.g. after a privacy change, carries a higher
version), and any Top 10 of a later window replaces one of an earlier window (the board rolled
over; ARCHITECTURE.md: Boards and windows). The owners index sends a user's own events to that
user's connections alone.
"""

from __future__ import annotations

from scoreboard.domain.boards import Board
from scoreboard.domain.windows import Window
from services.gateway.frames import NEVER, Frame, TopOrder
from services.gateway.subscriber import Subscriber


class BoardState:
    __slots__ = ("board", "board_id", "owners", "published_ms", "subscribers", "top", "version", "window")

    def __init__(self, board: Board) -> None:
        self.board = board
        self.board_id = board.id
        self.window: Window | None = None  # of the Top 10 held
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

    @property
    def order(self) -> TopOrder:
        return (self.window.index, self.version) if self.window is not None else NEVER

    def update_top(self, top: Frame, version: int, window_id: str) -> bool:
        """Keep `top` if it is newer than the one held; True when it replaced it."""
        try:
            window = self.board.rule.parse(window_id)
        except ValueError:
            return False  # not a window of this board as configured here
        if (window.index, version) <= self.order:
            return False
        self.top, self.version, self.window = top, version, window
        self.published_ms = top.id_key[0]
        return True
