"""What adjustments and reviews share: a row an admin decides on, by id, with its user and its
status, listed newest first by `seq` (db/paging.py; ARCHITECTURE.md: Operators). Each table adds
its own columns and its own status values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

Status = TypeVar("Status", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class WorkItem(Generic[Status]):
    id: UUID
    seq: int  # the admin lists' order: never repeats (db/paging.py)
    user_id: UUID
    status: Status

    def to_json(self) -> dict[str, Any]:
        """The fields every work item opens with; each table's row adds its own after them."""
        return {"id": str(self.id), "status": self.status.value, "userId": str(self.user_id)}
