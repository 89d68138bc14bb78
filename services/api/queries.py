"""Query parameters: parsed strictly, refused with the field and a cleaned copy of the value."""

from __future__ import annotations

import re
from collections.abc import Collection

from starlette.requests import Request

from scoreboard.domain.boards import known_board
from scoreboard.domain.errors import ValidationFailed
from scoreboard.domain.text import clean_text


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


def board_query(request: Request, known: Collection[str]) -> str:
    """A configured board: malformed is 400, unknown is 404, and neither costs a database query."""
    return known_board(request.query_params.get("board"), known)


class TopQueries:
    """`?limit=&board=` of the top endpoint, parsed once per distinct query string (pollers
    repeat the same few); bounded, and invalid ones are never remembered."""

    def __init__(self, capacity: int = 1024) -> None:
        self._parsed: dict[bytes, tuple[str, int]] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._parsed)

    def known(self, raw: bytes) -> tuple[str, int] | None:
        """A query string parsed before (valid), or None."""
        return self._parsed.get(raw)

    def parse(self, request: Request, boards: Collection[str]) -> tuple[str, int]:
        raw: bytes = request.scope["query_string"]
        found = self._parsed.get(raw)
        if found is None:
            found = (board_query(request, boards), int_query(request, "limit", default=10, low=1, high=50))
            if len(self._parsed) >= self._capacity:
                self._parsed.clear()
            self._parsed[raw] = found
        return found
