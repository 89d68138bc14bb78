"""Action types and the server-decided delta."""

from __future__ import annotations

from dataclasses import dataclass


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
    return min(client_delta, action_type.points)
