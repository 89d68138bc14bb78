"""Query parameters: parsed strictly, refused with the field and a cleaned copy of the value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.requests import Request

from scoreboard.domain.boards import Board, known_board
from scoreboard.domain.errors import ValidationFailed
from scoreboard.domain.text import clean_text
from scoreboard.domain.windows import Window


def int_query(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
        raise ValidationFailed(
            f"{name} must be an integer from {low} to {high}",
            details={"field": name, "value": clean_text(raw, 32)},
        )
    return int(raw)


def board_query(request: Request, boards: Mapping[str, Board]) -> Board:
    """A configured board: malformed is 400, unknown is 404, and neither costs a database query."""
    return boards[known_board(request.query_params.get("board"), boards)]


def window_query(request: Request, board: Board) -> Window:
    """`?window=`: the board's current window when absent, else a past one it still retains."""
    return board.readable_window(request.query_params.get("window"), datetime.now(UTC))


TopQuery = tuple[str, str | None, int]  # board id, ?window= as given, limit


class TopQueries:
    """`?limit=&board=&window=` of the top endpoint, parsed once per distinct query string
    (pollers repeat the same few); bounded, and invalid ones are never remembered. Which window
    that is depends on the time: callers resolve it (Board.readable_window) on every request."""

    def __init__(self, capacity: int = 1024) -> None:
        self._parsed: dict[bytes, TopQuery] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._parsed)

    def known(self, raw: bytes) -> TopQuery | None:
        """A query string parsed before (valid), or None."""
        return self._parsed.get(raw)

    def parse(self, request: Request, boards: Mapping[str, Board]) -> TopQuery:
        raw: bytes = request.scope["query_string"]
        found = self._parsed.get(raw)
        if found is None:
            board = board_query(request, boards)
            window_query(request, board)  # valid now: 400 or 404 otherwise, and not remembered
            limit = int_query(request, "limit", default=10, low=1, high=50)
            found = (board.id, request.query_params.get("window"), limit)
            if len(self._parsed) >= self._capacity:
                self._parsed.clear()
            self._parsed[raw] = found
        return found
