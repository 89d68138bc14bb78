"""The server decides the delta: a client may ask for less, never for more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoreboard.domain.actions import ActionType, server_delta
from scoreboard.domain.errors import ValidationFailed


def _kind(points: int) -> ActionType:
    return ActionType(name="quest", points=points, min_seconds=0, ttl_seconds=60)


def test_no_client_delta_gives_the_types_points() -> None:
    assert server_delta(_kind(10), None) == 10


def test_client_asking_for_more_is_clamped_down_to_the_points() -> None:
    assert server_delta(_kind(10), 1_000_000) == 10


def test_client_asking_for_less_gets_what_it_asked() -> None:
    assert server_delta(_kind(10), 3) == 3


@given(points=st.integers(1, 1_000_000), asked=st.none() | st.integers(min_value=1))
def test_delta_is_between_one_and_points_and_never_above_the_ask(points: int, asked: int | None) -> None:
    delta = server_delta(_kind(points), asked)
    assert 1 <= delta <= points
    if asked is not None:
        assert delta <= asked
        assert delta == min(asked, points)


@pytest.mark.parametrize("asked", [0, -1, -(10**9)])
def test_a_delta_below_one_is_refused_by_the_domain_itself(asked: int) -> None:
    with pytest.raises(ValidationFailed):
        server_delta(ActionType("quiz", 10, 0, 60), asked)
