"""The realtime event schema (ARCHITECTURE.md: Events): what goes on the stream and out over SSE."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any
from uuid import UUID

from scoreboard.domain.models import RankedEntry

TOP_SIZE = 10


class EventType(StrEnum):
    LEADERBOARD_UPDATED = "leaderboard_updated"
    USER_SCORE_UPDATED = "user_score_updated"


def leaderboard_updated(
    board_id: str, window_id: str, version: int, entries: Sequence[RankedEntry]
) -> dict[str, Any]:
    return {
        "type": EventType.LEADERBOARD_UPDATED.value,
        "board": board_id,
        "window": window_id,
        "version": version,
        "top10": [entry.to_public() for entry in entries],
    }


def user_score_updated(
    board_id: str, window_id: str, user_id: UUID, new_score: int, rank: int
) -> dict[str, Any]:
    return {
        "type": EventType.USER_SCORE_UPDATED.value,
        "board": board_id,
        "window": window_id,
        "userId": str(user_id),
        "newScore": new_score,
        "rank": rank,
    }
