"""HMAC-SHA256 request signatures over the canonical increment string (ARCHITECTURE.md: Write API)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

CANONICAL_VERSION = "v1"
INCREMENT_METHOD = "POST"
INCREMENT_PATH = "/api/scores/increment"
DEFAULT_KEY_ID = "default"


def canonical_increment(
    *, user_id: str, action_id: str, delta: int | None, nonce: str, timestamp: str
) -> str:
    delta_text = "" if delta is None else str(delta)
    parts = [CANONICAL_VERSION, INCREMENT_METHOD, INCREMENT_PATH]
    parts += [user_id, action_id, delta_text, nonce, timestamp]
    return "\n".join(parts)


def sign(secret: str, canonical: str) -> str:
    return hmac.digest(secret.encode(), canonical.encode(), "sha256").hex()  # one C call, same MAC


def signature_matches(keys: Mapping[str, str], key_id: str, canonical: str, signature: str) -> bool:
    """Constant-time check; an unknown key id compares against a dummy so timing says nothing."""
    secret = keys.get(key_id)
    expected = sign(secret if secret is not None else "\0unknown-key", canonical)
    offered = signature.lower().encode()  # bytes: compare_digest refuses non-ASCII str
    return hmac.compare_digest(expected.encode(), offered) and secret is not None


def timestamp_in_window(timestamp: int, now: float, tolerance_s: int) -> bool:
    return abs(now - timestamp) <= tolerance_s
