"""Settings: parsed once from SCOREBOARD_*, and a bad or missing one is refused clearly."""

from __future__ import annotations

import json
import os
from ipaddress import ip_network

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from scoreboard.config import JwtSettings, TicketSettings, fail_on_invalid_settings
from scoreboard.domain.anomalies import Limits, Population
from services.api.settings import ApiSettings
from services.gateway.settings import GatewaySettings
from services.worker.settings import WorkerProcessSettings

SECRET = "s" * 40
REQUIRED = {
    "SCOREBOARD_DATABASE_URL": "postgresql://user@db/scoreboard",
    "SCOREBOARD_REDIS_URL": "redis://cache:6379/0",
    "SCOREBOARD_TICKET_SECRET": "t" * 40,
    "SCOREBOARD_JWT_SECRET": SECRET,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean SCOREBOARD_* environment holding only the required variables."""
    for name in list(os.environ):
        if name.startswith("SCOREBOARD_"):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _missing(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(item["loc"][0]) for item in error.value.errors() if item["type"] == "missing"}


def test_complete_environment_loads_with_the_documented_defaults(env: pytest.MonkeyPatch) -> None:
    settings = ApiSettings()
    assert settings.signature_tolerance_s == 300
    assert (settings.rate_limit_user_per_min, settings.rate_limit_ip_per_min) == (60, 600)
    assert settings.action_types["default"].points == 1
    assert settings.signing_keys == {}
    assert settings.trusted_proxies == []
    assert 300 <= settings.top_cache_ms <= 1000
    assert settings.jwt_leeway_s == 30


@pytest.mark.parametrize(
    "name", ["SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL", "SCOREBOARD_TICKET_SECRET"]
)
def test_missing_required_variable_is_named(env: pytest.MonkeyPatch, name: str) -> None:
    env.delenv(name)
    with pytest.raises(ValidationError) as error:
        ApiSettings()
    assert _missing(error) == {name.removeprefix("SCOREBOARD_").lower()}


def test_api_without_any_jwt_key_source_is_refused(env: pytest.MonkeyPatch) -> None:
    env.delenv("SCOREBOARD_JWT_SECRET")
    with pytest.raises(ValidationError, match="SCOREBOARD_JWT_SECRET or SCOREBOARD_JWT_JWKS"):
        ApiSettings()


def test_api_with_only_a_jwks_is_accepted(env: pytest.MonkeyPatch) -> None:
    env.delenv("SCOREBOARD_JWT_SECRET")
    env.setenv("SCOREBOARD_JWT_JWKS", "/etc/scoreboard/jwks.json")
    assert ApiSettings().jwt_jwks == "/etc/scoreboard/jwks.json"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # An empty secret is a public one: anyone could mint action tickets and stream tokens.
        ("SCOREBOARD_TICKET_SECRET", ""),
        # The verifier treats an empty secret as "none", so the API would start and answer 401 to all.
        ("SCOREBOARD_JWT_SECRET", ""),
        # Secrets shorter than 32 characters.
        ("SCOREBOARD_TICKET_SECRET", "t" * 31),
        ("SCOREBOARD_JWT_SECRET", "j" * 31),
        ("SCOREBOARD_SIGNING_KEYS", json.dumps({"default": "k" * 31})),
        # Action types that would score nothing, expire at once, or are not a mapping.
        ("SCOREBOARD_ACTION_TYPES", '{"quest": {"points": 0}}'),
        ("SCOREBOARD_ACTION_TYPES", '{"quest": {"points": 5, "ttl_seconds": 0}}'),
        ("SCOREBOARD_ACTION_TYPES", '["quest"]'),
        ("SCOREBOARD_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"),
        # Numbers out of their range.
        ("SCOREBOARD_RATE_LIMIT_USER_PER_MIN", "0"),
        ("SCOREBOARD_RATE_LIMIT_IP_PER_MIN", "many"),
        ("SCOREBOARD_SIGNATURE_TOLERANCE_S", "0"),
        ("SCOREBOARD_JWT_LEEWAY_S", "301"),
        ("SCOREBOARD_REALTIME_TOKEN_TTL_S", "61"),
    ],
)
def test_a_value_the_api_cannot_use_is_refused(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ValidationError):
        ApiSettings()


def test_action_types_are_parsed_from_json_and_keep_a_default(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_ACTION_TYPES", json.dumps({"quest": {"points": 10, "min_seconds": 5}}))
    types = ApiSettings().action_types
    assert types["quest"].points == 10
    assert types["quest"].min_seconds == 5
    assert types["default"].points == 1


@pytest.mark.parametrize("name", ["SCOREBOARD_ACTION_TYPES", "SCOREBOARD_SIGNING_KEYS"])
def test_json_variable_that_is_not_json_is_refused(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv(name, "{not json")
    # pydantic-settings reports undecodable JSON as SettingsError, not ValidationError.
    with pytest.raises((ValidationError, SettingsError), match=name.removeprefix("SCOREBOARD_").lower()):
        ApiSettings()


def test_signing_keys_are_a_json_object_of_secrets(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_SIGNING_KEYS", json.dumps({"2024": "a" * 32, "2025": "b" * 32}))
    settings = ApiSettings()
    assert {kid: key.get_secret_value() for kid, key in settings.signing_keys.items()} == {
        "2024": "a" * 32,
        "2025": "b" * 32,
    }
    assert "a" * 32 not in repr(settings)


def test_secrets_never_appear_in_the_settings_repr(env: pytest.MonkeyPatch) -> None:
    text = repr(ApiSettings())
    assert SECRET not in text
    assert "t" * 40 not in text
    assert "user@db" not in text


@pytest.mark.parametrize("raw", ["10.0.0.0/8, 192.168.1.1", '["10.0.0.0/8", "192.168.1.1"]'])
def test_trusted_proxies_accept_a_comma_list_or_json(env: pytest.MonkeyPatch, raw: str) -> None:
    env.setenv("SCOREBOARD_TRUSTED_PROXIES", raw)
    assert ApiSettings().trusted_proxies == [ip_network("10.0.0.0/8"), ip_network("192.168.1.1/32")]


def test_cors_origins_accept_a_comma_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_CORS_ORIGINS", "https://a.example, https://b.example")
    assert ApiSettings().cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize("raw", ["none", "HS256,none", "NONE"])
def test_alg_none_can_never_be_configured(raw: str) -> None:
    with pytest.raises(ValidationError, match="none"):
        JwtSettings(jwt_algorithms=raw)


def test_jwt_algorithms_accept_a_comma_list() -> None:
    assert JwtSettings(jwt_algorithms="RS256, ES256").jwt_algorithms == ["RS256", "ES256"]


def test_failure_report_is_one_line_naming_the_variable_and_exits_2(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("SCOREBOARD_TICKET_SECRET")
    with pytest.raises(ValidationError) as error:
        TicketSettings()
    with pytest.raises(SystemExit) as stop:
        fail_on_invalid_settings(error.value, "scoreboard gateway")
    assert stop.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["scoreboard gateway: configuration error: SCOREBOARD_TICKET_SECRET is required"]


SHOWCASE_BOARDS = {
    "global": {"title": "All time"},
    "daily": {"window": "day", "tz": "Europe/Paris", "retain": 7},
    "weekly": {"window": "week", "ranks": "shared"},
    "sprint": {
        "window": {"seconds": 300, "anchor": "2026-01-01T00:00:00Z"},
        "types": ["default"],
        "retain": 3,
    },
}


def test_boards_are_parsed_into_their_rules(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_BOARDS", json.dumps(SHOWCASE_BOARDS))
    boards = {board.id: board for board in ApiSettings().board_list()}  # type: ignore[call-arg]
    assert list(boards) == ["global", "daily", "weekly", "sprint"]
    assert (boards["global"].title, boards["global"].rule.kind, boards["global"].retain) == (
        "All time",
        "all",
        8,
    )
    assert (boards["daily"].rule.tz, boards["daily"].retain) == ("Europe/Paris", 7)
    assert boards["weekly"].shared_ranks
    assert (boards["sprint"].rule.seconds, boards["sprint"].types) == (300, frozenset({"default"}))
    assert boards["sprint"].rule.anchor is not None
    assert boards["sprint"].rule.anchor.isoformat() == "2026-01-01T00:00:00+00:00"


def test_the_default_is_one_all_time_global_board(env: pytest.MonkeyPatch) -> None:
    (board,) = ApiSettings().board_list()  # type: ignore[call-arg]
    assert (board.id, board.rule.kind, board.types) == ("global", "all", None)


@pytest.mark.parametrize(
    ("boards", "complaint"),
    [
        ({"Global": {}}, "board ids must match"),
        ({f"b{index}": {} for index in range(33)}, "at most 32 boards"),
        ({}, "at least one board"),
        ({"daily": {"window": "fortnight"}}, "window"),
        ({"daily": {"window": "day", "tz": "Mars/Olympus"}}, "unknown time zone"),
        ({"ev": {"window": {"seconds": 0, "anchor": "2026-01-01T00:00:00Z"}}}, "seconds"),
        ({"ev": {"window": {"seconds": 60, "anchor": "2026-01-01T00:00:00"}}}, "anchor"),  # no zone
        ({"ev": {"window": {"seconds": 60, "anchor": "2026-01-01T00:00:00.5Z"}}}, "whole second"),
        ({"global": {"retain": -1}}, "retain"),
        ({"global": {"ranks": "dense"}}, "ranks"),
        ({"global": {"colour": "red"}}, "colour"),
        ({"global": {"types": ["quizz"]}}, "unknown action types ['quizz']"),
        ({"global": {"types": []}}, "types"),
        ({"quiz": {"types": ["quiz"]}}, "no board counts the action types ['default']"),
    ],
)
def test_a_bad_board_stops_the_process_naming_the_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], boards: object, complaint: str
) -> None:
    env.setenv("SCOREBOARD_BOARDS", json.dumps(boards))
    env.setenv("SCOREBOARD_ACTION_TYPES", json.dumps({"default": {"points": 1}, "quiz": {"points": 5}}))
    with pytest.raises(ValidationError) as error:
        ApiSettings()  # type: ignore[call-arg]
    with pytest.raises(SystemExit):
        fail_on_invalid_settings(error.value, "scoreboard api")
    line = capsys.readouterr().err
    assert "SCOREBOARD_BOARDS" in line
    assert complaint in line


def test_anomaly_rules_default_to_none_and_parse_every_optional_key(env: pytest.MonkeyPatch) -> None:
    assert WorkerProcessSettings().anomaly_rules.rules().empty  # type: ignore[call-arg]
    env.setenv(
        "SCOREBOARD_ANOMALY_RULES",
        json.dumps(
            {
                "overall": {"per_minute": 120},
                "types": {"quiz": {"per_hour": 900}},
                "population": {"factor": 4, "min_active": 200},
            }
        ),
    )
    rules = WorkerProcessSettings().anomaly_rules.rules()  # type: ignore[call-arg]
    assert (rules.overall, rules.types, rules.population) == (
        Limits(120, None),
        {"quiz": Limits(None, 900)},
        Population(4.0, 200),
    )


@pytest.mark.parametrize(
    "rules",
    [
        {"overall": {"per_minute": 0}},
        {"overall": {"per_second": 5}},
        {"types": {"quiz": {"per_hour": -1}}},
        {"population": {"factor": 0.5}},
        {"population": {"min_active": 1}},
        {"everyone": {}},
    ],
)
def test_bad_anomaly_rules_stop_the_worker_naming_the_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rules: object
) -> None:
    env.setenv("SCOREBOARD_ANOMALY_RULES", json.dumps(rules))
    with pytest.raises(ValidationError) as error:
        WorkerProcessSettings()  # type: ignore[call-arg]
    with pytest.raises(SystemExit):
        fail_on_invalid_settings(error.value, "scoreboard worker")
    assert "SCOREBOARD_ANOMALY_RULES" in capsys.readouterr().err


def test_the_signing_key_id_admin_is_reserved_for_adjustments(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_SIGNING_KEYS", json.dumps({"admin": "k" * 40}))
    with pytest.raises(ValidationError, match="reserved"):
        ApiSettings()  # type: ignore[call-arg]


def test_a_redis_cluster_is_named_by_its_scheme_or_a_flag_and_the_queue_by_its_own_url(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("SCOREBOARD_REDIS_URL", "redis+cluster://:pw@node-0:6379")
    env.setenv("SCOREBOARD_QUEUE_REDIS_URL", "redis://queue:6379/0")
    settings = ApiSettings()  # type: ignore[call-arg]
    assert settings.store_is_cluster
    assert settings.store_url() == "redis://:pw@node-0:6379"
    assert settings.queue_url() == "redis://queue:6379/0"

    env.setenv("SCOREBOARD_REDIS_URL", "rediss://node-0:6379")
    env.setenv("SCOREBOARD_REDIS_CLUSTER", "true")
    flagged = WorkerProcessSettings()  # type: ignore[call-arg]
    assert flagged.store_is_cluster
    assert flagged.store_url() == "rediss://node-0:6379"


def test_the_queue_is_the_boards_redis_unless_set(env: pytest.MonkeyPatch) -> None:
    settings = ApiSettings()  # type: ignore[call-arg]
    assert not settings.store_is_cluster
    assert settings.queue_url() == REQUIRED["SCOREBOARD_REDIS_URL"]


@pytest.mark.parametrize(
    ("store", "queue", "says"),
    [
        ("redis+cluster://node-0:6379", None, "set SCOREBOARD_QUEUE_REDIS_URL"),
        ("redis://cache:6379/0", "redis+cluster://node-0:6379", "must name a single Redis"),
    ],
)
def test_arq_is_never_given_a_cluster(
    env: pytest.MonkeyPatch, store: str, queue: str | None, says: str
) -> None:
    env.setenv("SCOREBOARD_REDIS_URL", store)
    if queue:
        env.setenv("SCOREBOARD_QUEUE_REDIS_URL", queue)
    with pytest.raises(ValidationError, match=says):
        WorkerProcessSettings()  # type: ignore[call-arg]


def test_the_gateway_needs_no_queue_on_a_cluster(env: pytest.MonkeyPatch) -> None:
    env.setenv("SCOREBOARD_REDIS_URL", "redis+cluster://node-0:6379")
    assert GatewaySettings().store_is_cluster  # type: ignore[call-arg]
