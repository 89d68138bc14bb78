"""Action types and the server-decided delta."""

from __future__ import annotations

from dataclasses import dataclass

from scoreboard.domain.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class ActionType:
    name: str
    points: int
    min_seconds: float
    ttl_seconds: float


def server_delta(action_type: ActionType, client_delta: int | None) -> int:
    """The points an action is worth: a client may ask for less, never for more."""
    if client_delta is None:
        return action_type.points
    if client_delta < 1:  # the schema refuses it too; a score must never go down through here
        raise ValidationFailed("delta must be an integer >= 1", details={"field": "delta"})
    return min(client_delta, action_type.points)
