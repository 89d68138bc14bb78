"""Text from outside is cleaned (names) or recognised as unsafe (exact fields)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoreboard.domain.text import clean_text, has_unsafe_characters
from services.api.schemas import PRINTABLE_PATTERN


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Alice", "Alice"),
        ("  Zoë 👍  ", "Zoë 👍"),
        ("Mal\x00lory", "Mallory"),
        ("line\nbreak\ttab", "line break tab"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # a right-to-left override would reorder the board
        ("half\ud800", "half"),  # a lone surrogate cannot be stored as UTF-8
        ("\x07\x1b[31m", "[31m"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),  # zero-width joiners are kept
    ],
)
def test_names_lose_what_cannot_be_stored_or_shown(raw: str, clean: str) -> None:
    assert clean_text(raw, 64) == clean


def test_a_name_is_cut_to_its_length() -> None:
    assert clean_text("x" * 100, 64) == "x" * 64


@given(st.text())
def test_a_cleaned_text_is_always_safe_and_encodable(raw: str) -> None:
    cleaned = clean_text(raw, 64)
    assert not has_unsafe_characters(cleaned)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # raises on a lone surrogate
    assert len(cleaned) <= 64


@pytest.mark.parametrize("value", ["t1.abc\x00", "key\x7f", "a\u202eb", "\ud800"])
def test_unsafe_characters_are_recognised(value: str) -> None:
    assert has_unsafe_characters(value)


@pytest.mark.parametrize("value", ["t1.abc.def", "Zoë", "👨\u200d👩", ""])
def test_ordinary_text_is_safe(value: str) -> None:
    assert not has_unsafe_characters(value)


@given(st.text())
def test_the_request_schema_pattern_refuses_exactly_the_unsafe_characters(value: str) -> None:
    surrogate_free = value.encode("utf-8", "ignore").decode()  # the JSON parser refuses the others
    assert (re.fullmatch(PRINTABLE_PATTERN, surrogate_free) is None) == has_unsafe_characters(surrogate_free)
