"""The gateway process's settings, built from the shared pieces."""

from __future__ import annotations

from pydantic import Field

from scoreboard.config import (
    BoardSettings,
    FlagSettings,
    HttpSettings,
    ProxySettings,
    RedisSettings,
    TicketSettings,
)


class GatewaySettings(
    RedisSettings, TicketSettings, HttpSettings, ProxySettings, BoardSettings, FlagSettings
):
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    # At most one Top 10 per client per interval; widened up to the maximum while the loop lags.
    sse_state_interval_ms: int = Field(default=250, ge=10, le=60_000)
    sse_state_interval_max_ms: int = Field(default=4000, ge=10, le=600_000)
    sse_send_timeout_s: float = Field(default=10.0, gt=0)  # a write stuck this long evicts the client
    sse_max_lifetime_s: float = Field(default=3600.0, gt=0)  # then ask the client to reconnect
    sse_retry_ms: int = Field(default=2000, ge=100)  # base reconnect delay, jittered on drain
    sse_replay_limit: int = Field(default=1000, ge=1)  # beyond this many missed events: a snapshot
    sse_drain_grace_s: float = Field(default=2.0, ge=0)
