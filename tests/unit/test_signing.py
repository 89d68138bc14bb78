"""Request signatures: the canonical string (ARCHITECTURE.md: Write API) and the key-id lookup."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from scoreboard.security.client import build_increment_request
from scoreboard.security.signing import (
    canonical_increment,
    sign,
    signature_matches,
    timestamp_in_window,
)

USER = "0b6c2a8e-3f0e-4d7a-9b1e-6f7d8c9a0b1c"
ACTION = "01937a4e-8b2c-7d3e-9f40-5a6b7c8d9e0f"
KEY = "k" * 40
OTHER_KEY = "o" * 40


def _canonical(delta: int | None = 3) -> str:
    return canonical_increment(
        user_id=USER, action_id=ACTION, delta=delta, nonce="t1.n.m", timestamp="1700000000"
    )


def test_canonical_string_is_the_exact_lines_of_the_design() -> None:
    expected = f"v1\nPOST\n/api/scores/increment\n{USER}\n{ACTION}\n3\nt1.n.m\n1700000000"
    assert _canonical(3).encode() == expected.encode()


def test_canonical_string_has_an_empty_delta_line_when_delta_is_absent() -> None:
    lines = _canonical(None).split("\n")
    assert lines == ["v1", "POST", "/api/scores/increment", USER, ACTION, "", "t1.n.m", "1700000000"]


def test_canonical_string_has_no_trailing_newline() -> None:
    assert not _canonical(None).endswith("\n")
    assert not _canonical(5).endswith("\n")


def test_signature_is_lowercase_hex_hmac_sha256_of_the_canonical_string() -> None:
    canonical = _canonical()
    expected = hmac.new(KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert sign(KEY, canonical) == expected
    assert expected == expected.lower()
    assert len(expected) == 64


def test_good_signature_matches() -> None:
    canonical = _canonical()
    assert signature_matches({"default": KEY}, "default", canonical, sign(KEY, canonical))


def test_forged_signature_does_not_match() -> None:
    canonical = _canonical()
    good = sign(KEY, canonical)
    forged = ("0" if good[0] != "0" else "1") + good[1:]
    assert not signature_matches({"default": KEY}, "default", canonical, forged)


def test_signature_over_another_payload_does_not_match() -> None:
    signature = sign(KEY, _canonical(1))
    assert not signature_matches({"default": KEY}, "default", _canonical(2), signature)


def test_signature_made_with_another_key_does_not_match() -> None:
    canonical = _canonical()
    assert not signature_matches({"default": KEY}, "default", canonical, sign(OTHER_KEY, canonical))


def test_unknown_key_id_never_matches() -> None:
    canonical = _canonical()
    assert not signature_matches({"default": KEY}, "nope", canonical, sign(KEY, canonical))


def test_unknown_key_id_does_not_match_the_dummy_secret_either() -> None:
    canonical = _canonical()
    dummy_signature = sign("\0unknown-key", canonical)
    assert not signature_matches({"default": KEY}, "nope", canonical, dummy_signature)


def test_rotation_accepts_both_active_keys_by_their_id() -> None:
    keys = {"2024": KEY, "2025": OTHER_KEY}
    canonical = _canonical()
    assert signature_matches(keys, "2024", canonical, sign(KEY, canonical))
    assert signature_matches(keys, "2025", canonical, sign(OTHER_KEY, canonical))


def test_rotation_does_not_accept_a_key_under_the_other_keys_id() -> None:
    keys = {"2024": KEY, "2025": OTHER_KEY}
    canonical = _canonical()
    assert not signature_matches(keys, "2025", canonical, sign(KEY, canonical))


def test_non_hex_signature_does_not_match() -> None:
    assert not signature_matches({"default": KEY}, "default", _canonical(), "zz" * 32)


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    # The schema pattern guards the API today; the function's own contract is to answer a bool.
    assert not signature_matches({"default": KEY}, "default", _canonical(), "é" * 64)


@pytest.mark.parametrize(
    ("timestamp", "now", "inside"),
    [
        (1000, 1000.0, True),
        (1000, 1300.0, True),
        (1000, 700.0, True),
        (1000, 1300.5, False),
        (1000, 699.5, False),
        (1000, 5000.0, False),
    ],
)
def test_timestamp_window_is_plus_or_minus_the_tolerance(timestamp: int, now: float, inside: bool) -> None:
    assert timestamp_in_window(timestamp, now, 300) is inside


def test_client_helper_builds_a_request_the_server_check_accepts() -> None:
    signed = build_increment_request(
        token="tok", signing_key=KEY, user_id=USER, action_id=ACTION, nonce="t1.a.b", delta=2, timestamp=1700
    )
    body, headers = signed.body, signed.headers
    canonical = canonical_increment(
        user_id=body["userId"],
        action_id=body["actionId"],
        delta=body.get("delta"),
        nonce=body["nonce"],
        timestamp=headers["x-request-timestamp"],
    )
    assert signature_matches({body["keyId"]: KEY}, body["keyId"], canonical, body["signature"])
    assert headers["authorization"] == "Bearer tok"
    assert headers["x-request-timestamp"] == "1700"
    assert body["delta"] == 2


def test_client_helper_without_delta_omits_it_and_signs_the_empty_line() -> None:
    signed = build_increment_request(
        token="tok", signing_key=KEY, user_id=USER, action_id=ACTION, nonce="t1.a.b", key_id="k2", timestamp=9
    )
    assert "delta" not in signed.body
    assert signed.body["keyId"] == "k2"
    canonical = canonical_increment(user_id=USER, action_id=ACTION, delta=None, nonce="t1.a.b", timestamp="9")
    assert signed.body["signature"] == sign(KEY, canonical)


def test_client_helper_stamps_the_current_time_by_default() -> None:
    import time

    before = int(time.time())
    signed = build_increment_request(token="t", signing_key=KEY, user_id=USER, action_id=ACTION, nonce="n")
    assert before <= int(signed.headers["x-request-timestamp"]) <= int(time.time())
