"""Runtime flags (ARCHITECTURE.md: Operators): what an operator can switch while every process runs.

A limit left at None means "the environment's value" (SCOREBOARD_RATE_LIMIT_*_PER_MIN).
`version` grows with every change, so a copy (the Redis mirror, a process's snapshot) can tell
a newer state from an older one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

INCREMENTS = "increments"
REALTIME = "realtime"
RATE_LIMIT_USER_PER_MIN = "rate_limit_user_per_min"
RATE_LIMIT_IP_PER_MIN = "rate_limit_ip_per_min"
BOOLEAN_FLAGS = (INCREMENTS, REALTIME)
LIMIT_FLAGS = (RATE_LIMIT_USER_PER_MIN, RATE_LIMIT_IP_PER_MIN)
MAX_LIMIT_PER_MIN = 1_000_000_000  # as the database's check (fits its integer column)


@dataclass(frozen=True, slots=True)
class RuntimeFlags:
    increments: bool = True
    realtime: bool = True
    rate_limit_user_per_min: int | None = None
    rate_limit_ip_per_min: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuntimeFlags:
        """From a stored copy; anything malformed is refused rather than half-read."""
        values = {name: data[name] for name in (*BOOLEAN_FLAGS, *LIMIT_FLAGS) if name in data}
        for name in BOOLEAN_FLAGS:
            if name in values and not isinstance(values[name], bool):
                raise ValueError(f"{name} must be a boolean")
        for name in LIMIT_FLAGS:
            value = values.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT_PER_MIN
            ):
                raise ValueError(f"{name} must be null or an integer from 1 to {MAX_LIMIT_PER_MIN}")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class StoredFlags:
    """The flags as stored, with the version of that state (0: never written)."""

    flags: RuntimeFlags
    version: int


@dataclass(frozen=True, slots=True)
class EffectiveFlags:
    """What a process applies: the limits resolved against its environment's values."""

    increments: bool
    realtime: bool
    user_per_min: int
    ip_per_min: int
