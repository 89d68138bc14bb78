"""The flags a process applies, evaluated through an OpenFeature client once per refresh.

The hot paths read `FlagView.current`, a plain attribute: a flag check costs no round trip and
no SDK call per request (an SDK evaluation takes ~25 µs; the increment path asks for three).
"""

from __future__ import annotations

import logging

from openfeature.client import OpenFeatureClient

from scoreboard.domain.flags import (
    INCREMENTS,
    RATE_LIMIT_IP_PER_MIN,
    RATE_LIMIT_USER_PER_MIN,
    REALTIME,
    EffectiveFlags,
)

log = logging.getLogger("scoreboard.flags")


class FlagView:
    def __init__(self, client: OpenFeatureClient, *, user_per_min: int, ip_per_min: int) -> None:
        self._client = client
        self._user_default = user_per_min
        self._ip_default = ip_per_min
        self._ignored: set[tuple[str, int]] = set()  # warned about once each
        # Until a provider answers: everything on, the environment's limits.
        self.current = EffectiveFlags(True, True, user_per_min, ip_per_min)

    def refresh(self) -> bool:
        """Evaluate every flag again; True when what the process applies changed."""
        client = self._client
        fresh = EffectiveFlags(
            increments=client.get_boolean_value(INCREMENTS, True),
            realtime=client.get_boolean_value(REALTIME, True),
            user_per_min=self._limit(RATE_LIMIT_USER_PER_MIN, self._user_default),
            ip_per_min=self._limit(RATE_LIMIT_IP_PER_MIN, self._ip_default),
        )
        changed = fresh != self.current
        self.current = fresh
        return changed

    def _limit(self, key: str, default: int) -> int:
        value = self._client.get_integer_value(key, default)
        if value < 1:  # another provider's 0 would refuse every write: not a limit, ignored
            if (key, value) not in self._ignored:
                self._ignored.add((key, value))
                log.warning("runtime flag ignored: limits are >= 1", extra={"flag": key, "value": value})
            return default
        return value
