"""One ranking order for Redis, the database fallback and every response.

Order: score descending, then reached_at ascending, then user_id ascending.

Redis sorted sets compare doubles, and a double cannot hold a score up to 2**40 together with a
microsecond timestamp. So the ZSET score is the plain score (exact below 2**53) and the member
string carries the tiebreak: Redis orders equal scores by member bytes, and ZREVRANGE walks them
in descending byte order. The member is therefore built so that *larger* bytes mean *better*:
the inverted reached_at, then the inverted user id, both as fixed-width hex. See
docs/decisions/0002-ranking-encoding.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from scoreboard.domain.models import RankedEntry

_MAX_MICROS = (1 << 64) - 1
_MAX_UUID = (1 << 128) - 1
MEMBER_LENGTH = 16 + 32
MAX_SCORE = 1 << 53


def to_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def encode_member(user_id: UUID, reached_at_us: int) -> str:
    return f"{_MAX_MICROS - reached_at_us:016x}{_MAX_UUID - user_id.int:032x}"


def decode_member(member: str) -> tuple[UUID, int]:
    reached_at_us = _MAX_MICROS - int(member[:16], 16)
    user_id = UUID(int=_MAX_UUID - int(member[16:], 16))
    return user_id, reached_at_us


def sort_key(score: int, reached_at_us: int, user_id: UUID) -> tuple[int, int, int]:
    """Ascending sort by this key gives the ranking order (best first)."""
    return (-score, reached_at_us, user_id.int)


def unique_ranks(count: int, offset: int) -> list[int]:
    """Ranks of `count` entries read from position `offset` on: 1, 2, 3, 4."""
    return list(range(offset + 1, offset + count + 1))


def shared_ranks(scores: Sequence[int], offset: int, first: int) -> list[int]:
    """Ranks of entries read in ranking order from position `offset` on, equal scores sharing
    the rank of the first of them (1, 2, 2, 4); `first` is the first entry's (one more than the
    number of higher scores on the whole board)."""
    ranks: list[int] = []
    for index, score in enumerate(scores):
        if index == 0:
            ranks.append(first)
        elif score == scores[index - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(offset + index + 1)
    return ranks


def with_own_entry(
    others: Sequence[RankedEntry], mine: RankedEntry, offset: int, *, shared: bool
) -> list[RankedEntry]:
    """A hidden user's own view of a slice of the ranking (read from position `offset` on, without
    them): their entry where they would stand, the entries below it one rank lower, as if they
    were shown. With unique ranks their rank is their position; with shared ranks they come first
    among equal scores, and only lower scores move down."""
    if shared:
        index = next((i for i, entry in enumerate(others) if entry.score <= mine.score), len(others))
    else:
        index = min(max(mine.rank - 1 - offset, 0), len(others))
    below = [
        replace(entry, rank=entry.rank + 1) if not shared or entry.score < mine.score else entry
        for entry in others[index:]
    ]
    return [*others[:index], mine, *below]
