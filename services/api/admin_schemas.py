"""The bodies and queries of /api/admin/*: strict, and every write says why (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from scoreboard.domain.boards import BOARD_PATTERN
from scoreboard.domain.errors import ValidationFailed
from scoreboard.domain.flags import MAX_LIMIT_PER_MIN
from scoreboard.domain.models import Principal
from scoreboard.domain.windows import WINDOW_ID_PATTERN
from services.api.schemas import Body, PrintableStr

MAX_REASON_LENGTH = 1000
# Above the public routes' 8 KiB: an over-long reason is a field error (400) that names the
# field, not a body refused unread (413).
ADMIN_MAX_BODY_BYTES = 32 * 1024

ReasonText = Annotated[
    PrintableStr,
    Field(
        min_length=1,
        max_length=MAX_REASON_LENGTH,
        description="why, for the audit log: not blank, no control characters",
    ),
]


class AdminWrite(Body):
    # Unknown fields refused, not ignored: a misspelt flag silently ignored would leave an
    # operator believing it was switched.
    model_config = ConfigDict(extra="forbid")

    reason: ReasonText

    @field_validator("reason")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the reason must say why")
        return value


class AdminDecision(AdminWrite):
    """An approval, a rejection, a ban, an unban or a review's outcome: only its reason."""


@dataclass(frozen=True, slots=True)
class Decision:
    """POST /api/admin/<things>/{id}/<verb>, read: which admin decides, on what, and why."""

    principal: Principal
    target_id: UUID
    reason: str
    request_id: str


MAX_ADJUSTMENT = 1_000_000_000


class AdjustmentProposal(AdminWrite):
    userId: UUID
    board: Annotated[StrictStr, Field(pattern=BOARD_PATTERN.pattern)]
    window: (
        Annotated[
            StrictStr,
            Field(
                pattern=WINDOW_ID_PATTERN.pattern, description="absent or null: the board's current window"
            ),
        ]
        | None
    ) = None
    delta: Annotated[
        StrictInt,
        Field(
            ge=-MAX_ADJUSTMENT,
            le=MAX_ADJUSTMENT,
            description="not 0; negative lowers the score (never below 0)",
        ),
    ]

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment of 0 changes nothing")
        return value


def _no_default(schema: dict[str, Any]) -> None:
    """Absent means "unchanged": the document shows no default (null is no boolean)."""
    schema.pop("default", None)


LimitPerMinute = Annotated[StrictInt, Field(ge=1, le=MAX_LIMIT_PER_MIN)]


class FlagsUpdate(AdminWrite):
    """A partial change with a reason: the flags named change (at least one), the others stay.
    A limit set to null goes back to the environment's value; a boolean flag is never null."""

    # Absent: unchanged (None, never validated); given: a JSON boolean, null included refused.
    # Read through changes() only, which lists the fields given.
    increments: StrictBool = Field(default=None, json_schema_extra=_no_default)  # type: ignore[assignment]
    realtime: StrictBool = Field(default=None, json_schema_extra=_no_default)  # type: ignore[assignment]
    rate_limit_user_per_min: LimitPerMinute | None = None
    rate_limit_ip_per_min: LimitPerMinute | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> FlagsUpdate:
        if not self.changes():
            raise ValueError("name at least one flag to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set - {"reason"})}


_CURSOR_PREFIX = "a1:"


def encode_cursor(before_id: int) -> str:
    """Opaque to clients: where the next page starts (ids are not promised to stay numbers)."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{before_id}".encode()).rstrip(b"=").decode()


def decode_cursor(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = re.fullmatch(rf"{_CURSOR_PREFIX}([1-9][0-9]{{0,17}})", text)
    if len(raw) > 64 or match is None:
        raise ValidationFailed("cursor is not one this API handed out", details={"field": "cursor"})
    return int(match.group(1))


Status = TypeVar("Status", bound=StrEnum)


def status_query(raw: str | None, kind: type[Status]) -> Status | None:
    """`?status=`: one of the enum's values, or absent (every status)."""
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ValidationFailed(
            f"status must be one of {', '.join(item.value for item in kind)}",
            details={"field": "status"},
        ) from None


def id_path(raw: str) -> UUID:
    """An admin resource's id from the path: a UUID, else 400."""
    try:
        return UUID(raw)
    except ValueError:
        raise ValidationFailed("id must be a UUID", details={"field": "id"}) from None
