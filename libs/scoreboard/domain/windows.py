"""Time windows of a board (ARCHITECTURE.md: Boards and windows): which window an instant falls
in, its bounds, its id, and how far back a window id is.

Calendar windows (day, ISO week, month) follow the board's time zone, so a local day lasts 23,
24 or 25 hours (or 23.5 on Lord Howe Island) and starts at the first instant of that local date.
Fixed-length windows (`seconds`) count from their anchor in absolute time. Window ids:
`all`, `YYYY-MM-DD`, `YYYY-Www` (the ISO week-numbering year), `YYYY-MM`, and for fixed-length
windows their start in UTC as `YYYYMMDDTHHMMSSZ`.

PostgreSQL decides the window of an increment at commit, with the same rules
(libs/scoreboard/db/migrations/0004_boards_and_windows.sql); a test compares the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

ALL = "all"
# What any window id looks like, whatever the board: one that does not is malformed (400); one
# that does but is not a window of this board, or not a real date, does not exist (404).
WINDOW_ID_PATTERN = re.compile(r"^(all|\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}|\d{4}-\d{2}|\d{8}T\d{6}Z)$")
_DAY_ID = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK_ID = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_ID = re.compile(r"^(\d{4})-(\d{2})$")
_SECONDS_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")


class MalformedWindow(ValueError):
    """Not a window id of this board's kind (400)."""


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    start: datetime | None  # UTC; None for `all`
    end: datetime | None  # UTC, exclusive (the next window's start); None for `all`
    index: int  # consecutive windows have consecutive indexes (0 for `all`)


@dataclass(frozen=True, slots=True)
class WindowRule:
    """How a board cuts time: `all`, `day`, `week`, `month`, or `seconds` from `anchor`."""

    kind: str
    tz: str = "UTC"
    seconds: int = 0
    anchor: datetime | None = None  # UTC, for `seconds`

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def at(self, instant: datetime) -> Window:
        """The window `instant` (aware) falls in."""
        if self.kind == ALL:
            return Window(ALL, None, None, 0)
        if self.kind == "seconds":
            assert self.anchor is not None
            return self._seconds_window((instant - self.anchor) // timedelta(seconds=self.seconds))
        local = instant.astimezone(self.zone).date()
        if self.kind == "day":
            return self._calendar_window(local)
        if self.kind == "week":
            return self._calendar_window(local - timedelta(days=local.weekday()))
        return self._calendar_window(local.replace(day=1))

    def shift(self, window: Window, count: int) -> Window:
        """The window `count` windows after `window` (before it when negative)."""
        if self.kind == ALL:
            return window
        if self.kind == "seconds":
            return self._seconds_window(window.index + count)
        assert window.start is not None
        first = window.start.astimezone(self.zone).date()
        if self.kind == "day":
            return self._calendar_window(first + timedelta(days=count))
        if self.kind == "week":
            return self._calendar_window(first + timedelta(days=7 * count))
        months = first.year * 12 + first.month - 1 + count
        return self._calendar_window(date(months // 12, months % 12 + 1, 1))

    def parse(self, window_id: str) -> Window:
        """The window an id names; MalformedWindow when it is not one of this kind."""
        if self.kind == ALL:
            if window_id != ALL:
                raise MalformedWindow(window_id)
            return Window(ALL, None, None, 0)
        try:
            return self._parse(window_id)
        except ValueError as error:  # a date that does not exist (2023-02-29, week 54)
            raise MalformedWindow(window_id) from error

    def _parse(self, window_id: str) -> Window:
        if self.kind == "seconds":
            match = _SECONDS_ID.fullmatch(window_id)
            if not match:
                raise MalformedWindow(window_id)
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            start = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            window = self.at(start)
            if window.start != start:  # not a boundary of this board's windows
                raise MalformedWindow(window_id)
            return window
        pattern = {"day": _DAY_ID, "week": _WEEK_ID, "month": _MONTH_ID}[self.kind]
        match = pattern.fullmatch(window_id)
        if not match:
            raise MalformedWindow(window_id)
        numbers = [int(part) for part in match.groups()]
        if self.kind == "day":
            first = date(*numbers)
        elif self.kind == "week":
            first = date.fromisocalendar(numbers[0], numbers[1], 1)
        else:
            first = date(numbers[0], numbers[1], 1)
        return self._calendar_window(first)

    def _seconds_window(self, index: int) -> Window:
        assert self.anchor is not None
        start = self.anchor + timedelta(seconds=index * self.seconds)
        end = start + timedelta(seconds=self.seconds)
        return Window(start.strftime("%Y%m%dT%H%M%SZ"), start, end, index)

    def _calendar_window(self, first: date) -> Window:
        """The window starting on local date `first` (a Monday for weeks, the 1st for months)."""
        if self.kind == "day":
            after = first + timedelta(days=1)
            window_id, index = first.isoformat(), first.toordinal()
        elif self.kind == "week":
            after = first + timedelta(days=7)
            year, week, _ = first.isocalendar()
            window_id, index = f"{year:04d}-W{week:02d}", first.toordinal() // 7
        else:
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            window_id, index = f"{first.year:04d}-{first.month:02d}", first.year * 12 + first.month - 1
        return Window(window_id, self._local_midnight(first), self._local_midnight(after), index)

    def _local_midnight(self, day: date) -> datetime:
        """The first instant of a local date in UTC. Where midnight does not exist (a change at
        00:00) or happens twice, fold=0 gives the earliest instant that has that date."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)
