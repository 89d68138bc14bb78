"""Settings pieces shared by the three processes.

Each service builds its own settings class from these mixins (see services/<name>/settings.py),
so a process only demands the variables it uses. Nothing here is instantiated at import.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from scoreboard.domain.anomalies import Limits, Population, Rules
from scoreboard.domain.boards import BOARD_PATTERN, Board
from scoreboard.domain.models import DEFAULT_BOARD
from scoreboard.domain.windows import WindowRule
from scoreboard.flags.providers import BUILTIN, factory_of

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
ADMIN_SOURCE = "admin"  # score_events.source of an adjustment (db/migrations/0006_moderation.sql)


def long_enough_secret(value: SecretStr | None) -> SecretStr | None:
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


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class RedisSettings(BaseScoreboardSettings):
    """The boards' Redis (boards, the stream, limits; ARCHITECTURE.md: Redis roles): a single
    Redis, or a Redis Cluster (`redis_cluster`, or a redis+cluster:// or rediss+cluster:// URL)."""

    redis_url: SecretStr
    redis_cluster: bool = False
    redis_timeout_s: float = Field(default=1.0, gt=0)
    stream_maxlen: int = Field(default=10_000, ge=100)

    @property
    def store_is_cluster(self) -> bool:
        return self.redis_cluster or _is_cluster_url(self.redis_url.get_secret_value())

    def store_url(self) -> str:
        """The boards' Redis URL as redis-py reads it (redis:// or rediss://)."""
        url = self.redis_url.get_secret_value()
        scheme, separator, rest = url.partition("://")
        return f"{CLUSTER_SCHEMES.get(scheme, scheme)}{separator}{rest}"


class QueueRedisSettings(RedisSettings):
    """Also the arq job queue's Redis (API and worker): a single primary, since arq's
    transactions span keys of many slots; by default the boards' Redis when that is one server."""

    queue_redis_url: SecretStr | None = None

    @model_validator(mode="after")
    def _queue_on_a_single_primary(self) -> QueueRedisSettings:
        if self.queue_redis_url is not None and _is_cluster_url(self.queue_redis_url.get_secret_value()):
            raise ValueError(
                "SCOREBOARD_QUEUE_REDIS_URL must name a single Redis: arq does not run on a Cluster"
            )
        if self.store_is_cluster and self.queue_redis_url is None:
            raise ValueError(
                "SCOREBOARD_REDIS_URL is a Redis Cluster: set SCOREBOARD_QUEUE_REDIS_URL to a single "
                "Redis primary for the job queue (arq does not run on a Cluster)"
            )
        return self

    def queue_url(self) -> str:
        return (self.queue_redis_url or self.redis_url).get_secret_value()


def _is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in CLUSTER_SCHEMES


class TicketSettings(BaseScoreboardSettings):
    ticket_secret: SecretStr
    realtime_token_ttl_s: int = Field(default=60, ge=5, le=60)

    _check_ticket_secret = field_validator("ticket_secret")(long_enough_secret)


class JwtSettings(BaseScoreboardSettings):
    jwt_secret: SecretStr | None = None
    jwt_jwks: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_max_ttl_s: int = Field(default=900, ge=1)
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)
    # The claim that makes a token an admin's when it holds `scoreboard:admin` (ARCHITECTURE.md: Operators).
    admin_claim: str = Field(default="roles", min_length=1, max_length=200)

    _split_algorithms = field_validator("jwt_algorithms", mode="before")(_split_commas)
    _check_jwt_secret = field_validator("jwt_secret")(long_enough_secret)

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
        if ADMIN_SOURCE in value:  # score_events.source: a client's key id must not pass for an admin
            raise ValueError(f"the key id {ADMIN_SOURCE!r} is reserved for admins' adjustments")
        for secret in value.values():
            long_enough_secret(secret)
        return value


class HttpSettings(BaseScoreboardSettings):
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_log: Literal["all", "errors", "off"] = "errors"

    _split_origins = field_validator("cors_origins", mode="before")(_split_commas)


class FlagSettings(BaseScoreboardSettings):
    """Where the runtime flags come from (scoreboard/flags/, docs/operations.md "Operators")."""

    flags_provider: str = "builtin"
    # How often each process reads the flags' source: a change applies everywhere within 2 s.
    flags_refresh_ms: int = Field(default=500, ge=50, le=1000)

    @field_validator("flags_provider")
    @classmethod
    def _usable_provider(cls, value: str) -> str:
        value = value.strip()
        if value != BUILTIN:
            factory_of(value)  # importable and callable, or the process stops naming the variable
        return value


class LeaderboardSettings(BaseScoreboardSettings):
    # At most a second: a privacy change must reach every read within 2 s (ARCHITECTURE.md: Write API).
    top_cache_ms: int = Field(default=500, ge=0, le=1000)
    leaderboard_coalesce_ms: int = Field(default=100, ge=10, le=10_000)


class FixedWindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(ge=1, le=366 * 86_400)
    anchor: AwareDatetime

    @field_validator("anchor")
    @classmethod
    def _whole_seconds(cls, value: datetime) -> datetime:
        if value.microsecond:
            raise ValueError("anchor must be a whole second")
        return value.astimezone(UTC)


class BoardConfig(BaseModel):
    """One entry of SCOREBOARD_BOARDS (ARCHITECTURE.md: Boards and windows)."""

    model_config = ConfigDict(extra="forbid")

    window: Literal["all", "day", "week", "month"] | FixedWindowConfig = "all"
    tz: str = "UTC"
    retain: int = Field(default=8, ge=0, le=1000)
    types: list[str] | None = Field(default=None, min_length=1)
    ranks: Literal["unique", "shared"] = "unique"
    title: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


MAX_BOARDS = 32


class BoardSettings(BaseScoreboardSettings):
    boards: dict[str, BoardConfig] = Field(default_factory=lambda: {DEFAULT_BOARD: BoardConfig()})

    @field_validator("boards")
    @classmethod
    def _valid_ids(cls, value: dict[str, BoardConfig]) -> dict[str, BoardConfig]:
        if not value:
            raise ValueError("at least one board is needed")
        if len(value) > MAX_BOARDS:
            raise ValueError(f"at most {MAX_BOARDS} boards")
        bad = [board_id for board_id in value if not BOARD_PATTERN.fullmatch(board_id)]
        if bad:
            raise ValueError(f"board ids must match {BOARD_PATTERN.pattern}: {bad}")
        return value

    def board_list(self) -> list[Board]:
        return [board_from_config(board_id, config) for board_id, config in self.boards.items()]


def board_from_config(board_id: str, config: BoardConfig) -> Board:
    window = config.window
    if isinstance(window, FixedWindowConfig):
        rule = WindowRule("seconds", config.tz, window.seconds, window.anchor)
    else:
        rule = WindowRule(window, config.tz)
    return Board(
        id=board_id,
        title=config.title or board_id,
        rule=rule,
        retain=config.retain,
        types=frozenset(config.types) if config.types is not None else None,
        shared_ranks=config.ranks == "shared",
    )


def check_board_types(boards: dict[str, BoardConfig], action_types: Collection[str]) -> None:
    """A board counting a type that does not exist is a typo, and an action no board counts
    would count for nothing: refuse to start, naming them."""
    for board_id, config in boards.items():
        unknown = sorted(set(config.types or ()) - set(action_types))
        if unknown:
            raise ValueError(f"board {board_id!r} counts unknown action types {unknown}")
    counted = {kind for config in boards.values() for kind in (config.types or action_types)}
    uncounted = sorted(set(action_types) - counted)
    if uncounted:
        raise ValueError(f"no board counts the action types {uncounted}")


class LimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)

    def limits(self) -> Limits:
        return Limits(self.per_minute, self.per_hour)


class PopulationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: float = Field(default=5.0, ge=1)
    min_active: int = Field(default=100, ge=2)


class AnomalyRulesConfig(BaseModel):
    """SCOREBOARD_ANOMALY_RULES (ARCHITECTURE.md: Operators); every key optional, `{}`: no rule."""

    model_config = ConfigDict(extra="forbid")

    overall: LimitsConfig = Field(default_factory=LimitsConfig)
    types: dict[str, LimitsConfig] = Field(default_factory=dict)
    population: PopulationConfig | None = None

    def rules(self) -> Rules:
        population = self.population
        return Rules(
            overall=self.overall.limits(),
            types={name: limits.limits() for name, limits in self.types.items()},
            population=Population(population.factor, population.min_active) if population else None,
        )


class AnomalySettings(BaseScoreboardSettings):
    anomaly_rules: AnomalyRulesConfig = Field(default_factory=AnomalyRulesConfig)


def fail_on_invalid_settings(error: ValidationError, program: str) -> NoReturn:
    """Stop the process with one line naming the offending variable(s)."""
    problems = []
    for item in error.errors():
        reason = "is required" if item["type"] == "missing" else item["msg"].removeprefix("Value error, ")
        if item["loc"]:
            variable, *inside = item["loc"]
            where = f" ({'.'.join(map(str, inside))})" if inside else ""
            problems.append(f"{ENV_PREFIX}{str(variable).upper()}{where} {reason}")
        else:  # a check across settings: its message names them
            problems.append(reason)
    print(f"{program}: configuration error: {'; '.join(problems)}", file=sys.stderr)
    raise SystemExit(2)


def fail_on_unparsable_setting(error: Exception, program: str) -> NoReturn:
    """pydantic-settings could not even decode a variable (JSON expected): name it, in one line."""
    match = re.search(r'field "(\w+)"', str(error))
    name = ENV_PREFIX + match.group(1).upper() if match else "a SCOREBOARD_ variable"
    print(f"{program}: configuration error: {name} is not valid JSON", file=sys.stderr)
    raise SystemExit(2)
