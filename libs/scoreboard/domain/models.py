"""Value types passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

ANONYMOUS_NAME = "Anonymous"
DEFAULT_BOARD = "global"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, from the bearer token."""

    user_id: UUID
    display_name: str
    admin: bool = False  # the token's admin claim holds scoreboard:admin (ARCHITECTURE.md: Operators)


@dataclass(frozen=True, slots=True)
class ScoreState:
    """A user's committed score on one board: what the worker copies to Redis."""

    board_id: str
    user_id: UUID
    score: int
    reached_at_us: int
    window_id: str = "all"  # the board's window this score belongs to
    # The id of the event that made this score: its version (0 when unknown: written before
    # versions existed). Redis applies a state only over an older version (an adjustment may
    # lower a score, so a higher score is no longer always the newer one).
    version: int = 0


@dataclass(frozen=True, slots=True)
class BoardCount:
    """Where one increment counted on one board, and the score it made there."""

    window_id: str
    score: int


@dataclass(frozen=True, slots=True)
class IncrementRecord:
    """What the database decided for one (user, action)."""

    event_id: int
    score_after: int  # on the increment's main board
    reached_at: datetime
    request_hash: str
    inserted: bool
    boards: dict[str, BoardCount] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OwnStanding:
    """A user's own score and rank on one board window. A hidden user (banned or quarantined)
    is out of the public ranking: their rank is where they would stand if shown, for their own
    view alone."""

    score: int
    rank: int
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class RankedEntry:
    rank: int
    user_id: UUID
    display_name: str
    is_public: bool
    score: int

    def to_public(self) -> dict[str, Any]:
        if self.is_public:
            return {
                "userId": str(self.user_id),
                "displayName": self.display_name,
                "score": self.score,
                "rank": self.rank,
            }
        return {"userId": None, "displayName": ANONYMOUS_NAME, "score": self.score, "rank": self.rank}
