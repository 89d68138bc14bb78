"""Our OpenFeature provider and the view code reads: values, defaults, refusals, no surprises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
from openfeature.provider.no_op_provider import NoOpProvider
from pydantic import ValidationError

from scoreboard.config import FlagSettings
from scoreboard.domain.flags import EffectiveFlags, RuntimeFlags, StoredFlags
from scoreboard.flags.provider import SnapshotProvider
from scoreboard.flags.providers import factory_of
from scoreboard.flags.view import FlagView
from scoreboard.redis_store.flags_mirror import decode, encode


@pytest.fixture
def domain(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"test.{request.node.name}"
    yield name
    api.set_provider(NoOpProvider(), name)


def _client(provider: Any, domain: str) -> OpenFeatureClient:
    api.set_provider_and_wait(provider, domain)
    return api.get_client(domain)


def test_the_provider_serves_the_state_it_was_handed(domain: str) -> None:
    provider = SnapshotProvider("scoreboard-test")
    client = _client(provider, domain)
    assert client.get_boolean_value("increments", False) is True  # the defaults before any source
    assert client.get_integer_value("rate_limit_user_per_min", 60) == 60

    provider.update(StoredFlags(RuntimeFlags(increments=False, rate_limit_user_per_min=5), 7))

    assert client.get_boolean_value("increments", True) is False
    assert client.get_boolean_value("realtime", False) is True
    details = client.get_integer_details("rate_limit_user_per_min", 60)
    assert (details.value, details.reason, details.flag_metadata) == (5, Reason.CACHED, {"version": 7})
    unset = client.get_integer_details("rate_limit_ip_per_min", 600)
    assert (unset.value, unset.reason, unset.error_code) == (600, Reason.DEFAULT, None)


def test_unknown_flags_and_wrong_types_get_the_callers_default_with_an_error(domain: str) -> None:
    client = _client(SnapshotProvider("scoreboard-test"), domain)
    unknown = client.get_boolean_details("increment", False)
    assert (unknown.value, unknown.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)
    as_int = client.get_integer_details("increments", 3)
    assert (as_int.value, as_int.error_code) == (3, ErrorCode.TYPE_MISMATCH)
    as_bool = client.get_boolean_details("rate_limit_ip_per_min", True)
    assert (as_bool.value, as_bool.error_code) == (True, ErrorCode.TYPE_MISMATCH)
    assert client.get_string_details("realtime", "x").error_code == ErrorCode.TYPE_MISMATCH
    assert client.get_float_details("realtime", 1.5).error_code == ErrorCode.TYPE_MISMATCH
    assert client.get_object_details("realtime", {}).error_code == ErrorCode.TYPE_MISMATCH


def test_the_view_resolves_limits_against_the_environment_and_reports_changes(domain: str) -> None:
    provider = SnapshotProvider("scoreboard-test")
    view = FlagView(_client(provider, domain), user_per_min=60, ip_per_min=600)
    assert view.current == EffectiveFlags(True, True, 60, 600)
    assert view.refresh() is False

    provider.update(StoredFlags(RuntimeFlags(realtime=False, rate_limit_ip_per_min=9), 2))
    assert view.refresh() is True
    assert view.current == EffectiveFlags(True, False, 60, 9)
    assert view.refresh() is False


def test_another_providers_flags_are_read_the_same_way_and_nonsense_limits_are_ignored(domain: str) -> None:
    flags = {
        "increments": InMemoryFlag("off", {"on": True, "off": False}),
        "rate_limit_user_per_min": InMemoryFlag("zero", {"zero": 0}),
        "rate_limit_ip_per_min": InMemoryFlag("few", {"few": 3}),
    }
    view = FlagView(_client(InMemoryProvider(flags), domain), user_per_min=60, ip_per_min=600)
    view.refresh()
    # realtime is not defined there: the default (on); a limit of 0 would refuse every write.
    assert view.current == EffectiveFlags(False, True, 60, 3)


def test_a_provider_that_cannot_answer_leaves_everything_on(domain: str) -> None:
    view = FlagView(_client(NoOpProvider(), domain), user_per_min=60, ip_per_min=600)
    view.refresh()
    assert view.current == EffectiveFlags(True, True, 60, 600)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("flagd-ish", "must be 'builtin', 'flagd' or 'package.module:factory'"),
        ("module:", "must be"),
        (":factory", "must be"),
        ("no_such_module_here:make", "cannot import no_such_module_here"),
        ("scoreboard.flags.providers:NOTHING", "is not a callable provider factory"),
        ("scoreboard.flags.providers:BUILTIN", "is not a callable provider factory"),
    ],
)
def test_a_provider_spec_that_cannot_be_used_is_refused_at_start(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        factory_of(spec)
    with pytest.raises(ValidationError, match="flags_provider"):
        FlagSettings(flags_provider=spec)


def test_flagd_and_an_importable_factory_are_accepted() -> None:
    assert FlagSettings(flags_provider="flagd").flags_provider == "flagd"
    spec = "openfeature.provider.no_op_provider:NoOpProvider"
    assert isinstance(factory_of(spec)(), NoOpProvider)
    assert FlagSettings().flags_provider == "builtin"


@pytest.mark.parametrize("refresh_ms", [0, 49, 1001])
def test_a_refresh_interval_that_breaks_the_two_second_promise_is_refused(refresh_ms: int) -> None:
    with pytest.raises(ValidationError, match="flags_refresh_ms"):
        FlagSettings(flags_refresh_ms=refresh_ms)


def test_the_mirror_copy_round_trips_and_refuses_what_it_cannot_trust() -> None:
    stored = StoredFlags(RuntimeFlags(increments=False, rate_limit_user_per_min=12), 41)
    assert decode(encode(stored)) == stored
    for raw in [
        b"[]",
        b'{"flags": {}}',
        b'{"version": "1", "flags": {}}',
        b'{"version": 1, "flags": {"increments": "no"}}',
        b'{"version": 1, "flags": {"rate_limit_ip_per_min": 0}}',
        b'{"version": 1, "flags": {"rate_limit_ip_per_min": true}}',
        b'{"version": 1, "flags": {"rate_limit_ip_per_min": 2.5}}',
    ]:
        with pytest.raises(ValueError, match=r"must be|not a runtime flags copy"):
            decode(raw)
