"""One ranking order: member bytes in Redis agree with the sort key everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from scoreboard.domain.ranking import (
    MEMBER_LENGTH,
    decode_member,
    encode_member,
    from_micros,
    sort_key,
    to_micros,
)

YEAR_2100_US = to_micros(datetime(2100, 1, 1, tzinfo=UTC))
micros = st.integers(0, YEAR_2100_US)
user_ids = st.uuids()
scores = st.integers(0, 2**40)
entries = st.lists(st.tuples(scores, micros, user_ids), min_size=1, max_size=50, unique_by=lambda e: e[2])


def test_earlier_time_encodes_to_larger_bytes() -> None:
    user = UUID(int=5)
    assert encode_member(user, 1_000) > encode_member(user, 1_001)


def test_smaller_user_id_encodes_to_larger_bytes_at_equal_time() -> None:
    assert encode_member(UUID(int=1), 1_000) > encode_member(UUID(int=2), 1_000)


def test_sort_key_orders_score_desc_then_time_asc_then_user_asc() -> None:
    rows = [(5, 2, UUID(int=1)), (9, 7, UUID(int=3)), (5, 1, UUID(int=9)), (5, 1, UUID(int=2))]
    ordered = sorted(rows, key=lambda r: sort_key(*r))
    assert ordered == [(9, 7, UUID(int=3)), (5, 1, UUID(int=2)), (5, 1, UUID(int=9)), (5, 2, UUID(int=1))]


@given(user=user_ids, reached=micros)
def test_decode_inverts_encode(user: UUID, reached: int) -> None:
    member = encode_member(user, reached)
    assert len(member) == MEMBER_LENGTH
    assert decode_member(member) == (user, reached)


@given(rows=entries)
def test_redis_order_equals_the_sort_key_order(rows: list[tuple[int, int, UUID]]) -> None:
    # Redis: score descending, then member bytes descending among equal scores (ZREVRANGE).
    def redis_key(row: tuple[int, int, UUID]) -> tuple[int, bytes]:
        score, reached, user = row
        return (score, encode_member(user, reached).encode())

    by_redis = sorted(rows, key=redis_key, reverse=True)
    by_key = sorted(rows, key=lambda r: sort_key(*r))
    assert by_redis == by_key


@given(rows=st.lists(st.tuples(micros, user_ids), min_size=2, max_size=50, unique_by=lambda e: e[1]))
def test_equal_scores_order_by_member_bytes_descending(rows: list[tuple[int, UUID]]) -> None:
    members = sorted((encode_member(user, reached) for reached, user in rows), reverse=True)
    expected = sorted(rows, key=lambda r: sort_key(2**40, r[0], r[1]))
    assert [decode_member(m) for m in members] == [(user, reached) for reached, user in expected]


def test_scores_up_to_two_to_the_forty_stay_exact_as_redis_doubles() -> None:
    top = 2**40
    assert float(top) != float(top - 1)
    assert int(float(top - 1)) == top - 1


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_micros_round_trip(moment: datetime) -> None:
    assert from_micros(to_micros(moment)) == moment


def test_to_micros_respects_the_timezone() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert to_micros(datetime(1970, 1, 1, 2, 0, 0, 1, tzinfo=plus_two)) == 1
