"""How the request context times a request: an ordinary one from start to end, a long-lived
stream from start to the moment it opened (a client listening for an hour is not a slow
request, and must not stretch the latency histogram or write a "slow" access-log line)."""

from __future__ import annotations

import logging

import pytest

from scoreboard.telemetry.metrics import Metrics
from scoreboard.web import request_context
from scoreboard.web.request_context import HttpPolicy

SCOPE = {"type": "http", "method": "GET", "path": "/x", "headers": []}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(request_context.time, "perf_counter", clock)
    return clock


@pytest.fixture
def metrics() -> Metrics:
    return Metrics("test")


@pytest.fixture
def policy(metrics: Metrics, caplog: pytest.LogCaptureFixture) -> HttpPolicy:
    """The request context's policy, its access log captured from INFO up."""
    caplog.set_level(logging.INFO)
    return HttpPolicy(metrics, "errors", cors=None)


def observed_seconds(metrics: Metrics, route: str) -> float:
    value = metrics.registry.get_sample_value(
        "scoreboard_http_request_duration_seconds_sum", {"service": "test", "route": route, "method": "GET"}
    )
    assert value is not None
    return value


def slow_lines(caplog: pytest.LogCaptureFixture, route: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "request" and r.__dict__.get("route") == route]


def test_a_stream_is_timed_until_it_opened_not_until_the_client_left(
    clock: Clock, metrics: Metrics, policy: HttpPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    stream = policy.begin(dict(SCOPE))
    clock.now += 0.004
    stream.stream_opened()
    clock.now += 3600.0  # the client listens for an hour
    stream.finish("/stream")
    assert observed_seconds(metrics, "/stream") == pytest.approx(0.004)
    assert slow_lines(caplog, "/stream") == []


def test_an_ordinary_request_is_timed_to_its_end_and_logged_when_slow(
    clock: Clock, metrics: Metrics, policy: HttpPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    request = policy.begin(dict(SCOPE))
    request.status = 200
    clock.now += 2.5
    request.finish("/top")
    assert observed_seconds(metrics, "/top") == pytest.approx(2.5)
    (line,) = slow_lines(caplog, "/top")
    assert line.__dict__["ms"] == 2500.0
