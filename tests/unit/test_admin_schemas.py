"""Admin bodies: a reason always, strict flag types, partial changes; opaque audit cursors."""

from __future__ import annotations

from typing import Any

import pytest

from scoreboard.domain.errors import ValidationFailed
from services.api.admin_schemas import FlagsUpdate, decode_cursor, encode_cursor
from services.api.schemas import validate


def _fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as error:
        validate(body, FlagsUpdate)
    return [item["field"] for item in error.value.details["fields"]]


def test_a_partial_change_names_only_what_it_changes() -> None:
    update = validate({"increments": False, "reason": "db upgrade"}, FlagsUpdate)
    assert update.changes() == {"increments": False}
    update = validate({"rate_limit_ip_per_min": None, "realtime": True, "reason": "back"}, FlagsUpdate)
    assert update.changes() == {"rate_limit_ip_per_min": None, "realtime": True}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"increments": False}, "reason"),
        ({"increments": False, "reason": ""}, "reason"),
        ({"increments": False, "reason": "   \t "}, "reason"),
        ({"increments": False, "reason": "x" * 1001}, "reason"),
        ({"increments": False, "reason": "x" * 10_000}, "reason"),
        ({"increments": False, "reason": "line\nbreak"}, "reason"),
        ({"increments": False, "reason": "bidi \u202e"}, "reason"),
        ({"increments": False, "reason": 42}, "reason"),
        ({"increments": "false", "reason": "r"}, "increments"),
        ({"increments": 0, "reason": "r"}, "increments"),
        ({"increments": None, "reason": "r"}, "increments"),
        ({"realtime": None, "reason": "r"}, "realtime"),
        ({"rate_limit_user_per_min": "10", "reason": "r"}, "rate_limit_user_per_min"),
        ({"rate_limit_user_per_min": 10.0, "reason": "r"}, "rate_limit_user_per_min"),
        ({"rate_limit_user_per_min": True, "reason": "r"}, "rate_limit_user_per_min"),
        ({"rate_limit_user_per_min": 0, "reason": "r"}, "rate_limit_user_per_min"),
        ({"rate_limit_ip_per_min": 1_000_000_001, "reason": "r"}, "rate_limit_ip_per_min"),
        ({"increment": False, "reason": "typo"}, "increment"),
        ({"reason": "nothing to change"}, "body"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    # a limit's union names its branch: rate_limit_user_per_min.int
    assert field in [name.split(".")[0] for name in _fields(body)]


def test_a_reason_of_exactly_the_limit_is_taken() -> None:
    assert validate({"realtime": False, "reason": "é" * 1000}, FlagsUpdate).reason == "é" * 1000


@pytest.mark.parametrize("before_id", [1, 2, 10**17, 999_999_999_999_999_999])
def test_cursors_round_trip(before_id: int) -> None:
    assert decode_cursor(encode_cursor(before_id)) == before_id


@pytest.mark.parametrize(
    "raw",
    ["x", "global", "YTE6", "YTE6MA", "YTE6LTE", "YTI6NQ", "YTE6MTAwMDAwMDAwMDAwMDAwMDAwMA", "%%%", "a" * 65],
)
def test_a_cursor_we_did_not_hand_out_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(raw)


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) is None
    assert decode_cursor("") is None
