"""Board ids (DESIGN section 10): what a valid id looks like, and which ones exist here.

Every entry point that takes `?board=` asks here, so a malformed id is 400, an unknown one is
404, and neither costs a query or a cache entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from scoreboard.domain.errors import NotFound, ValidationFailed
from scoreboard.domain.models import DEFAULT_BOARD

BOARD_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def known_board(raw: str | None, known: Collection[str]) -> str:
    """The board a request names (the default when it names none), if it exists."""
    board = DEFAULT_BOARD if raw is None else raw
    if not BOARD_PATTERN.fullmatch(board):
        raise ValidationFailed("board is not a valid board id", details={"field": "board"})
    if board not in known:
        raise NotFound("no such board", details={"board": board})
    return board
