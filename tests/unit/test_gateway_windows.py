"""A gateway's board state follows the board's windows: a later window's Top 10 replaces any of
an earlier one, whatever their versions; an earlier window's never comes back."""

from __future__ import annotations

from datetime import UTC, datetime

from scoreboard.domain.boards import Board
from scoreboard.domain.windows import WindowRule
from services.gateway.board import BoardState
from services.gateway.frames import Frame, frame

SPRINT = Board("sprint", "Sprint", WindowRule("seconds", seconds=60, anchor=datetime(2026, 1, 1, tzinfo=UTC)))


def top(window_id: str, version: int) -> tuple[Frame, int, str]:
    return frame("leaderboard_updated", b"{}", f"{version}-0"), version, window_id


def test_a_later_window_replaces_an_earlier_one_and_never_the_reverse() -> None:
    board = BoardState(SPRINT)
    assert board.update_top(*top("20261130T120000Z", 1_800_000_000_000))
    assert board.update_top(*top("20261130T120100Z", 0))  # the rollover, version 0
    assert board.window is not None
    assert board.window.id == "20261130T120100Z"
    assert not board.update_top(*top("20261130T120000Z", 1_800_000_000_999))
    assert not board.update_top(*top("20261130T120100Z", 0))  # not newer
    assert board.update_top(*top("20261130T120100Z", 5))
    assert board.order == (board.window.index, 5)


def test_a_window_id_this_board_does_not_have_is_ignored() -> None:
    board = BoardState(SPRINT)
    assert not board.update_top(*top("2026-11-30", 1))
    assert board.top is None
