"""The anomaly detector on a simulated hour: honest players of many habits and four cheaters of
different styles. Every cheater is flagged within 10 s of crossing a rule, no honest player is
ever flagged, and the one who stays under the absolute limits is caught by the population rule
alone. Simulated time: the test takes a second or two, whatever the machine."""

from __future__ import annotations

import bisect
import itertools
import random
from collections import defaultdict

import pytest

from scoreboard.domain.anomalies import Detector, Flag, Limits, Population, Rules, SlidingSum, percentile

Event = tuple[float, str, str, int]  # at (s), user, action type, points
MINUTES = 70
POINTS = {"quiz": 10, "default": 1}
ABSOLUTE = Rules(overall=Limits(per_minute=120, per_hour=1500), types={"quiz": Limits(per_minute=100)})
WITH_POPULATION = Rules(ABSOLUTE.overall, ABSOLUTE.types, Population(factor=3.0, min_active=50))


def honest_players(rng: random.Random, count: int) -> list[Event]:
    """Each plays in about 60 % of the minutes, at their own pace (up to 4 actions a minute, a
    quarter of them quizzes): at most 40 points a minute, a few hundred an hour."""
    events: list[Event] = []
    for index in range(count):
        user, pace = f"honest-{index}", rng.uniform(0.5, 3.0)
        for minute in range(MINUTES):
            if rng.random() > 0.6:
                continue
            actions = min(4, sum(rng.random() < pace / 6 for _ in range(6)))
            for _ in range(actions):
                kind = "quiz" if rng.random() < 0.25 else "default"
                events.append((minute * 60 + rng.uniform(0, 60), user, kind, POINTS[kind]))
    return events


def cheaters() -> list[Event]:
    events: list[Event] = []
    # Steady: a quiz every 4 s from minute 5 (150 points a minute).
    events += [(300 + i * 4.0, "steady", "quiz", 10) for i in range((MINUTES - 5) * 15)]
    # Bursts: 20 quizzes in 10 s every 6 minutes, idle in between (33 points a minute on average).
    events += [
        (start + j * 0.5, "bursts", "quiz", 10) for start in range(600, MINUTES * 60, 360) for j in range(20)
    ]
    # Slow grind: 3 quizzes a minute, all hour (30 a minute, under every per-minute limit; 1800 an hour).
    events += [(7 + i * 20.0, "grind", "quiz", 10) for i in range(MINUTES * 3)]
    # Outlier: 100 points a minute for 14 minutes, under every absolute limit (90 in quizzes, 100
    # in all, 1400 in the hour) but more than three times the population's p99.
    for minute in range(20, 34):
        events += [(minute * 60 + j * 6.5, "outlier", "quiz", 10) for j in range(9)]
        events += [(minute * 60 + j * 6 + 3, "outlier", "default", 1) for j in range(10)]
    return events


def run(rules: Rules, events: list[Event]) -> dict[str, tuple[float, Flag]]:
    """Feed the events in time order, with a population check every simulated second."""
    detector = Detector(rules)
    flagged: dict[str, tuple[float, Flag]] = {}
    tick = 0
    for at, user, kind, points in sorted(events):
        while tick <= at:
            flagged |= {flag.user: (tick, flag) for flag in detector.population(tick)}
            tick += 1
        if (flag := detector.observe(user, kind, points, at)) is not None:
            flagged[user] = (at, flag)
    return flagged


def first_crossing(rules: Rules, events: list[Event], user: str) -> float | None:
    """When the user's points first exceed an absolute limit, by exact sliding windows (a
    brute-force check, independent of the detector's buckets)."""
    crossings: list[float] = []
    mine = sorted((at, kind, points) for at, who, kind, points in events if who == user)
    times = [at for at, _, _ in mine]
    for scope, limits in [("", rules.overall), *rules.types.items()]:
        running = list(
            itertools.accumulate((p if scope in ("", kind) else 0 for _, kind, p in mine), initial=0)
        )
        for index, at in enumerate(times):
            for limit, span in ((limits.per_minute, 60), (limits.per_hour, 3600)):
                start = bisect.bisect_right(times, at - span)
                if limit is not None and running[index + 1] - running[start] > limit:
                    crossings.append(at)
                    break
    return min(crossings, default=None)


@pytest.fixture(scope="module")
def population() -> list[Event]:
    return honest_players(random.Random(20260101), 500) + cheaters()


def test_every_cheater_is_flagged_and_no_honest_player_is(population: list[Event]) -> None:
    flagged = run(WITH_POPULATION, population)
    assert sorted(flagged) == ["bursts", "grind", "outlier", "steady"]
    assert flagged["outlier"][1].rule == "population"
    assert flagged["grind"][1].rule == "overall.per_hour"


def test_the_absolute_rules_alone_catch_all_but_the_outlier_within_10_s_of_the_crossing(
    population: list[Event],
) -> None:
    flagged = run(ABSOLUTE, population)
    assert sorted(flagged) == ["bursts", "grind", "steady"]
    for user, (at, flag) in flagged.items():
        crossed = first_crossing(ABSOLUTE, population, user)
        assert crossed is not None, user
        assert 0 <= at - crossed <= 10, (user, flag.rule, at, crossed)
    assert first_crossing(ABSOLUTE, population, "outlier") is None  # it never broke a limit


def test_the_population_rule_waits_for_enough_active_players() -> None:
    few = Rules(population=Population(factor=3.0, min_active=50))
    detector = Detector(few)
    for index in range(49):
        detector.observe(f"p{index}", "default", 1, 0.0)
    detector.observe("loud", "quiz", 500, 0.0)
    (flag,) = detector.population(1.0)  # 50 active: enough; loud against the p99 of the 49 others
    assert (flag.user, flag.observed["p99"], flag.observed["active"]) == ("loud", 1, 50)
    detector = Detector(few)
    for index in range(48):
        detector.observe(f"p{index}", "default", 1, 0.0)
    detector.observe("loud", "quiz", 500, 0.0)
    assert detector.population(1.0) == []  # 49 active: not enough to judge anyone


def test_a_flagged_user_is_flagged_once_until_forgotten() -> None:
    detector = Detector(Rules(overall=Limits(per_minute=10)))
    assert detector.observe("ann", "default", 11, 0.0) is not None
    assert detector.observe("ann", "default", 11, 1.0) is None
    detector.forget("ann")
    assert detector.observe("ann", "default", 11, 2.0) is not None


def test_sliding_sums_forget_what_left_the_window_and_idle_users_are_pruned() -> None:
    minute = SlidingSum(1, 60)
    minute.add(0.5, 5)
    minute.add(30.0, 7)
    assert (minute.expire(59.9), minute.expire(60.0), minute.expire(90.0)) == (12, 7, 0)
    detector = Detector(ABSOLUTE)
    for index in range(100):
        detector.observe(f"u{index}", "quiz", 10, float(index))
    detector.prune(4000.0)
    assert len(detector) == 0


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 0.99), percentile(values, 0.5), percentile([7], 0.99)) == (99, 50, 7)


def test_no_rule_means_nothing_is_watched() -> None:
    assert Rules().empty
    assert not ABSOLUTE.empty
    totals: dict[str, int] = defaultdict(int)
    detector = Detector(Rules())
    for at, user, kind, points in cheaters():
        totals[user] += points
        assert detector.observe(user, kind, points, at) is None
    assert detector.population(MINUTES * 60) == []
