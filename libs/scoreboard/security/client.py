"""A client helper for trusted backends: sign an increment exactly as the API verifies it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from scoreboard.security.signing import DEFAULT_KEY_ID, canonical_increment, sign


@dataclass(frozen=True, slots=True)
class SignedIncrement:
    headers: dict[str, str]
    body: dict[str, Any]


def build_increment_request(
    *,
    token: str,
    signing_key: str,
    user_id: str,
    action_id: str,
    nonce: str,
    delta: int | None = None,
    key_id: str = DEFAULT_KEY_ID,
    timestamp: int | None = None,
) -> SignedIncrement:
    """Headers and JSON body for POST /api/scores/increment."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    canonical = canonical_increment(
        user_id=user_id, action_id=action_id, delta=delta, nonce=nonce, timestamp=stamp
    )
    body: dict[str, Any] = {
        "userId": user_id,
        "actionId": action_id,
        "nonce": nonce,
        "signature": sign(signing_key, canonical),
        "keyId": key_id,
    }
    if delta is not None:
        body["delta"] = delta
    headers = {
        "authorization": f"Bearer {token}",
        "x-request-timestamp": stamp,
        "content-type": "application/json",
    }
    return SignedIncrement(headers=headers, body=body)
