"""Settings pieces shared by the three processes.

Each service builds its own settings class from these mixins (see services/<name>/settings.py),
so a process only demands the variables it uses. Nothing here is instantiated at import.
"""

from __future__ import annotations

import json
import re
import sys
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "SCOREBOARD_"


class ActionTypeConfig(BaseModel):
    points: int = Field(ge=1, le=1_000_000)
    min_seconds: float = Field(default=0, ge=0)
    ttl_seconds: float = Field(default=3600, gt=0)


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


MIN_SECRET_LENGTH = 32


def _long_enough(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
    return value


class BaseScoreboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    log_level: str = "INFO"


class DatabaseSettings(BaseScoreboardSettings):
    database_url: SecretStr
    db_pool_max: int = Field(default=10, ge=1)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    db_connect_timeout_s: float = Field(default=3.0, gt=0)


class RedisSettings(BaseScoreboardSettings):
    redis_url: SecretStr
    redis_timeout_s: float = Field(default=1.0, gt=0)
    stream_maxlen: int = Field(default=10_000, ge=100)


class TicketSettings(BaseScoreboardSettings):
    ticket_secret: SecretStr
    realtime_token_ttl_s: int = Field(default=60, ge=5, le=60)

    _check_ticket_secret = field_validator("ticket_secret")(_long_enough)


class JwtSettings(BaseScoreboardSettings):
    jwt_secret: SecretStr | None = None
    jwt_jwks: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_max_ttl_s: int = Field(default=900, ge=1)
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)

    _split_algorithms = field_validator("jwt_algorithms", mode="before")(_split_commas)
    _check_jwt_secret = field_validator("jwt_secret")(_long_enough)

    @field_validator("jwt_algorithms")
    @classmethod
    def _no_none_algorithm(cls, value: list[str]) -> list[str]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("'none' is never an accepted algorithm")
        return value


class ActionSettings(BaseScoreboardSettings):
    action_types: dict[str, ActionTypeConfig] = Field(
        default_factory=lambda: {"default": ActionTypeConfig(points=1)}
    )

    @field_validator("action_types")
    @classmethod
    def _has_default(cls, value: dict[str, ActionTypeConfig]) -> dict[str, ActionTypeConfig]:
        value.setdefault("default", ActionTypeConfig(points=1))
        return value


class ProxySettings(BaseScoreboardSettings):
    """Whose X-Forwarded-For is believed (scoreboard/web/client_ip.py): every HTTP service."""

    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        items = _split_commas(value)
        if isinstance(items, list):
            return [ip_network(str(item), strict=False) for item in items]
        return items


class WriteSettings(ProxySettings):
    signing_keys: dict[str, SecretStr] = Field(default_factory=dict)
    signature_tolerance_s: int = Field(default=300, ge=1)
    rate_limit_user_per_min: int = Field(default=60, ge=1)
    rate_limit_ip_per_min: int = Field(default=600, ge=1)
    # The public Top-N reads, per address and per API process (services/api/read_limit.py).
    rate_limit_read_ip_per_min: int = Field(default=1200, ge=1)

    @field_validator("signing_keys")
    @classmethod
    def _keys_long_enough(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for secret in value.values():
            _long_enough(secret)
        return value


class HttpSettings(BaseScoreboardSettings):
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_log: Literal["all", "errors", "off"] = "errors"

    _split_origins = field_validator("cors_origins", mode="before")(_split_commas)


class LeaderboardSettings(BaseScoreboardSettings):
    # At most a second: a privacy change must reach every read within 2 s (DESIGN section 4).
    top_cache_ms: int = Field(default=500, ge=0, le=1000)
    leaderboard_coalesce_ms: int = Field(default=100, ge=10, le=10_000)


def fail_on_invalid_settings(error: ValidationError, program: str) -> NoReturn:
    """Stop the process with one line naming the offending variable(s)."""
    problems = []
    for item in error.errors():
        name = ENV_PREFIX + str(item["loc"][0]).upper() if item["loc"] else "settings"
        reason = "is required" if item["type"] == "missing" else item["msg"]
        problems.append(f"{name} {reason}")
    print(f"{program}: configuration error: {'; '.join(problems)}", file=sys.stderr)
    raise SystemExit(2)


def fail_on_unparsable_setting(error: Exception, program: str) -> NoReturn:
    """pydantic-settings could not even decode a variable (JSON expected): name it, in one line."""
    match = re.search(r'field "(\w+)"', str(error))
    name = ENV_PREFIX + match.group(1).upper() if match else "a SCOREBOARD_ variable"
    print(f"{program}: configuration error: {name} is not valid JSON", file=sys.stderr)
    raise SystemExit(2)
