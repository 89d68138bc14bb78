"""The API process's settings, built from the shared pieces."""

from __future__ import annotations

from pydantic import Field, model_validator

from scoreboard.config import (
    ActionSettings,
    BoardSettings,
    DatabaseSettings,
    FlagSettings,
    HttpSettings,
    JwtSettings,
    LeaderboardSettings,
    QueueRedisSettings,
    TicketSettings,
    WriteSettings,
    check_board_types,
)
from services.api.admin_settings import AdminSignInSettings


class ApiSettings(
    DatabaseSettings,
    QueueRedisSettings,
    JwtSettings,
    TicketSettings,
    ActionSettings,
    WriteSettings,
    HttpSettings,
    LeaderboardSettings,
    BoardSettings,
    FlagSettings,
    AdminSignInSettings,
):
    # Group commit: concurrent increments share a transaction (libs/scoreboard/db/group_commit.py).
    db_group_commit: bool = True
    db_group_flushers: int = Field(default=4, ge=1)
    db_group_max: int = Field(default=64, ge=1, le=1000)

    # The dev-only signing route of the demo page (`scoreboard dev` turns it on).
    dev_signing_route: bool = False
    dev_gateway_url: str = "http://127.0.0.1:8001"
    # The dev routes hand out tokens and signatures: loopback clients only, unless this says so.
    dev_routes_allow_remote_insecure: bool = False

    @model_validator(mode="after")
    def _needs_a_key_source(self) -> ApiSettings:
        if self.jwt_secret is None and self.jwt_jwks is None:
            raise ValueError("SCOREBOARD_JWT_SECRET or SCOREBOARD_JWT_JWKS must be set")
        return self

    @model_validator(mode="after")
    def _boards_count_known_types(self) -> ApiSettings:
        try:
            check_board_types(self.boards, self.action_types)
        except ValueError as error:
            raise ValueError(f"SCOREBOARD_BOARDS: {error}") from error
        return self
