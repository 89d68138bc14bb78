"""Window arithmetic (ARCHITECTURE.md: Boards and windows): local days across daylight-saving
changes, ISO weeks, month ends, leap days, fixed-length windows, and the ids that name them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoreboard.domain.boards import Board
from scoreboard.domain.errors import NotFound, ValidationFailed
from scoreboard.domain.windows import MalformedWindow, WindowRule

NEW_YORK_DAY = WindowRule("day", "America/New_York")
LORD_HOWE_DAY = WindowRule("day", "Australia/Lord_Howe")
UTC_WEEK = WindowRule("week")
UTC_MONTH = WindowRule("month")
EVENT = WindowRule("seconds", seconds=90, anchor=datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def hours(window_start: datetime | None, window_end: datetime | None) -> float:
    assert window_start is not None
    assert window_end is not None
    return (window_end - window_start) / timedelta(hours=1)


@pytest.mark.parametrize(
    ("rule", "instant", "window_id", "length_h"),
    [
        (NEW_YORK_DAY, utc(2024, 3, 10, 12), "2024-03-10", 23),  # spring forward
        (NEW_YORK_DAY, utc(2024, 11, 3, 12), "2024-11-03", 25),  # fall back
        (NEW_YORK_DAY, utc(2024, 11, 4, 4, 59), "2024-11-03", 25),  # 23:59 local, still that day
        (NEW_YORK_DAY, utc(2024, 11, 4, 5, 0), "2024-11-04", 24),
        (LORD_HOWE_DAY, utc(2024, 10, 6, 12), "2024-10-06", 23.5),  # a 30-minute shift forward
        (LORD_HOWE_DAY, utc(2024, 4, 7, 12), "2024-04-07", 24.5),  # and back
        (WindowRule("day", "America/Santiago"), utc(2024, 9, 8, 12), "2024-09-08", 23),  # no 00:00 that day
    ],
)
def test_a_local_day_follows_the_time_zone(
    rule: WindowRule, instant: datetime, window_id: str, length_h: float
) -> None:
    window = rule.at(instant)
    assert window.id == window_id
    assert hours(window.start, window.end) == length_h
    assert window.start is not None
    assert window.start <= instant < window.end  # type: ignore[operator]


def test_a_new_york_day_starts_at_local_midnight_in_either_season() -> None:
    assert NEW_YORK_DAY.at(utc(2024, 1, 15, 12)).start == utc(2024, 1, 15, 5)  # EST, UTC-5
    assert NEW_YORK_DAY.at(utc(2024, 7, 15, 12)).start == utc(2024, 7, 15, 4)  # EDT, UTC-4


@pytest.mark.parametrize(
    ("instant", "window_id", "start"),
    [
        (utc(2021, 1, 2, 12), "2020-W53", utc(2020, 12, 28)),  # a 53-week year, into January
        (utc(2026, 12, 31, 23, 59), "2026-W53", utc(2026, 12, 28)),
        (utc(2027, 1, 4), "2027-W01", utc(2027, 1, 4)),
        (utc(2024, 12, 30), "2025-W01", utc(2024, 12, 30)),  # ISO year 2025 starts in December
    ],
)
def test_iso_weeks_start_on_monday_and_use_the_week_numbering_year(
    instant: datetime, window_id: str, start: datetime
) -> None:
    window = UTC_WEEK.at(instant)
    assert (window.id, window.start, window.end) == (window_id, start, start + timedelta(days=7))
    assert UTC_WEEK.parse(window_id) == window


@pytest.mark.parametrize(
    ("instant", "window_id", "days"),
    [
        (utc(2024, 2, 29, 23), "2024-02", 29),
        (utc(2023, 2, 28), "2023-02", 28),
        (utc(2024, 12, 31), "2024-12", 31),
    ],
)
def test_months_end_where_the_calendar_says(instant: datetime, window_id: str, days: int) -> None:
    window = UTC_MONTH.at(instant)
    assert window.id == window_id
    assert hours(window.start, window.end) == days * 24


def test_fixed_length_windows_count_from_their_anchor_either_way() -> None:
    assert EVENT.at(utc(2026, 1, 1, 12, 1, 29)).id == "20260101T120000Z"
    assert EVENT.at(utc(2026, 1, 1, 12, 1, 30)).id == "20260101T120130Z"
    before = EVENT.at(utc(2026, 1, 1, 11, 59, 59))
    assert (before.id, before.index) == ("20260101T115830Z", -1)


@pytest.mark.parametrize(
    ("rule", "window_id"),
    [
        (WindowRule("day"), "2023-02-29"),  # no such day
        (WindowRule("day"), "2024-2-01"),
        (UTC_WEEK, "2021-W53"),  # 2021 has 52 weeks
        (UTC_WEEK, "2024-W1"),
        (UTC_MONTH, "2024-13"),
        (EVENT, "20260101T120045Z"),  # not a boundary of this board
        (EVENT, "2026-01-01T12:00:00Z"),
        (WindowRule("all"), "2024-01"),
        (WindowRule("day"), "all"),
    ],
)
def test_a_malformed_window_id_is_refused(rule: WindowRule, window_id: str) -> None:
    with pytest.raises(MalformedWindow):
        rule.parse(window_id)


RULES = st.sampled_from(
    [
        NEW_YORK_DAY,
        LORD_HOWE_DAY,
        WindowRule("week", "Asia/Kathmandu"),
        WindowRule("month", "Pacific/Chatham"),
        UTC_WEEK,
        EVENT,
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(RULES, INSTANTS)
def test_windows_tile_time_and_their_ids_name_them(rule: WindowRule, instant: datetime) -> None:
    window = rule.at(instant)
    assert window.start is not None
    assert window.end is not None
    assert window.start <= instant < window.end
    assert rule.parse(window.id) == window
    following = rule.at(window.end)
    assert following.start == window.end
    assert following.index == window.index + 1
    assert rule.at(window.end - timedelta(microseconds=1)) == window


def test_a_board_reads_its_current_window_and_retained_past_ones_only() -> None:
    board = Board("daily", "Daily", WindowRule("day"), retain=2)
    now = utc(2026, 11, 30, 10)
    assert board.readable_window(None, now).id == "2026-11-30"
    assert board.readable_window("2026-11-28", now).id == "2026-11-28"
    with pytest.raises(NotFound):
        board.readable_window("2026-11-27", now)  # past retention
    with pytest.raises(NotFound):
        board.readable_window("2026-12-01", now)  # not begun
    with pytest.raises(ValidationFailed):
        board.readable_window("yesterday", now)  # not a window id at all: 400
    with pytest.raises(NotFound):
        board.readable_window("2026-W48", now)  # a week, on a daily board: no such window
    with pytest.raises(NotFound):
        board.readable_window("2026-02-30", now)  # shaped like a day, but none


@given(RULES, INSTANTS, st.integers(min_value=-400, max_value=400))
def test_shifting_a_window_by_n_moves_its_index_by_n(rule: WindowRule, instant: datetime, count: int) -> None:
    window = rule.at(instant)
    shifted = rule.shift(window, count)
    assert shifted.index == window.index + count
    assert rule.parse(shifted.id) == shifted
