"""Boards (ARCHITECTURE.md: Boards and windows): what a valid id looks like, which ones exist
here, and which of their windows can be read.

Every entry point that takes `?board=` or `?window=` asks here, so a malformed id is 400, an
unknown one (or a window past its retention) is 404, and neither costs a query or a cache entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from scoreboard.domain.errors import NotFound, ValidationFailed
from scoreboard.domain.models import DEFAULT_BOARD
from scoreboard.domain.windows import WINDOW_ID_PATTERN, MalformedWindow, Window, WindowRule

BOARD_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def known_board(raw: str | None, known: Collection[str]) -> str:
    """The board a request names (the default when it names none), if it exists."""
    board = DEFAULT_BOARD if raw is None else raw
    if not BOARD_PATTERN.fullmatch(board):
        raise ValidationFailed("board is not a valid board id", details={"field": "board"})
    if board not in known:
        raise NotFound("no such board", details={"board": board})
    return board


@dataclass(frozen=True, slots=True)
class Board:
    """A configured board: how it cuts time, how long past windows stay, what it counts."""

    id: str
    title: str
    rule: WindowRule
    retain: int = 8
    types: frozenset[str] | None = None  # None: every action type
    shared_ranks: bool = False  # equal scores share a rank (1, 2, 2, 4)

    def counts(self, action_type: str) -> bool:
        return self.types is None or action_type in self.types

    def window_at(self, instant: datetime) -> Window:
        return self.rule.at(instant)

    def readable_window(self, window_id: str | None, now: datetime) -> Window:
        """The current window, or a past one still retained: 400 when malformed, 404 when not
        retained (or not begun)."""
        current = self.rule.at(now)
        if window_id is None:
            return current
        if not WINDOW_ID_PATTERN.fullmatch(window_id):
            raise ValidationFailed("window is not a window id", details={"field": "window"})
        missing = NotFound("no such window on this board", details={"board": self.id, "window": window_id})
        try:
            window = self.rule.parse(window_id)
        except MalformedWindow as error:
            raise missing from error
        if not 0 <= current.index - window.index <= self.retain:
            raise missing
        return window


def in_answer_order(boards: Collection[Board]) -> list[Board]:
    """`global` first, then as configured: an increment's main board (the one its answer's
    newScore and rank are about) is the first of these that counts its type."""
    return sorted(boards, key=lambda board: board.id != DEFAULT_BOARD)


# The default configuration: one all-time board.
ALL_TIME_GLOBAL = Board(DEFAULT_BOARD, DEFAULT_BOARD, WindowRule("all"))
