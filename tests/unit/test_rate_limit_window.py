"""The in-process sliding window: the same policy as the Redis script, on an injected clock."""

from __future__ import annotations

import pytest

from scoreboard.redis_store.rate_limit import LocalSlidingWindow

WINDOW_MS = 60_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_admits_up_to_the_limit_then_refuses(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    decisions = [window.hit("user", limit=5, window_ms=WINDOW_MS) for _ in range(6)]
    assert [d.admitted for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert all(d.retry_after_s == 0 for d in decisions[:5])


def test_refusal_has_a_retry_after_of_at_least_one_whole_second(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    window.hit("user", limit=1, window_ms=500)
    clock.advance(0.499)
    refused = window.hit("user", limit=1, window_ms=500)
    assert not refused.admitted
    assert refused.retry_after_s == 1
    assert isinstance(refused.retry_after_s, int)


def test_retry_after_is_the_time_until_the_oldest_hit_leaves_the_window(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    window.hit("user", limit=2, window_ms=WINDOW_MS)
    clock.advance(20)
    window.hit("user", limit=2, window_ms=WINDOW_MS)
    clock.advance(10.5)
    refused = window.hit("user", limit=2, window_ms=WINDOW_MS)
    assert not refused.admitted
    assert refused.retry_after_s == 30  # 29.5 s left, rounded up to whole seconds
    assert refused.reset_s == 30


def test_retrying_after_retry_after_succeeds(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    window.hit("user", limit=1, window_ms=WINDOW_MS)
    clock.advance(12.3)
    refused = window.hit("user", limit=1, window_ms=WINDOW_MS)
    clock.advance(refused.retry_after_s)
    assert window.hit("user", limit=1, window_ms=WINDOW_MS).admitted


def test_retrying_just_before_the_oldest_hit_expires_is_still_refused(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    window.hit("user", limit=1, window_ms=WINDOW_MS)
    clock.advance(59.998)
    refused = window.hit("user", limit=1, window_ms=WINDOW_MS)
    assert not refused.admitted
    assert refused.retry_after_s == 1


def test_refused_hits_do_not_extend_the_wait(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    window.hit("user", limit=1, window_ms=WINDOW_MS)
    first_refusal = window.hit("user", limit=1, window_ms=WINDOW_MS)
    for _ in range(100):
        clock.advance(0.5)
        window.hit("user", limit=1, window_ms=WINDOW_MS)
    assert first_refusal.retry_after_s == 60
    clock.advance(60 - 50)
    assert window.hit("user", limit=1, window_ms=WINDOW_MS).admitted


def test_window_slides_instead_of_resetting_at_a_fixed_boundary(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    clock.advance(50)  # late in any fixed minute bucket
    assert all(window.hit("user", limit=3, window_ms=WINDOW_MS).admitted for _ in range(3))
    clock.advance(15)  # a fixed window would have reset here; a sliding one still counts all three
    assert not window.hit("user", limit=3, window_ms=WINDOW_MS).admitted
    clock.advance(45)  # now the three are 60 s old
    assert window.hit("user", limit=3, window_ms=WINDOW_MS).admitted


def test_old_hits_leave_one_by_one(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    for _ in range(3):
        window.hit("user", limit=3, window_ms=WINDOW_MS)
        clock.advance(10)
    clock.advance(30)  # first hit is now exactly 60 s old, the others 50 and 40
    assert window.hit("user", limit=3, window_ms=WINDOW_MS).admitted
    assert not window.hit("user", limit=3, window_ms=WINDOW_MS).admitted


def test_subjects_are_counted_separately(clock: FakeClock) -> None:
    window = LocalSlidingWindow(clock=clock)
    assert window.hit("alice", limit=1, window_ms=WINDOW_MS).admitted
    assert not window.hit("alice", limit=1, window_ms=WINDOW_MS).admitted
    assert window.hit("bob", limit=1, window_ms=WINDOW_MS).admitted


def test_memory_is_bounded_by_evicting_the_least_recently_seen_subject(clock: FakeClock) -> None:
    window = LocalSlidingWindow(max_subjects=2, clock=clock)
    window.hit("a", limit=1, window_ms=WINDOW_MS)
    window.hit("b", limit=1, window_ms=WINDOW_MS)
    window.hit("a", limit=1, window_ms=WINDOW_MS)  # refused, but "a" is now the most recent
    window.hit("c", limit=1, window_ms=WINDOW_MS)  # evicts "b"
    assert len(window._logs) == 2
    assert not window.hit("a", limit=1, window_ms=WINDOW_MS).admitted  # "a" was kept
    assert window.hit("b", limit=1, window_ms=WINDOW_MS).admitted  # "b" was forgotten


def test_many_subjects_never_exceed_the_bound(clock: FakeClock) -> None:
    window = LocalSlidingWindow(max_subjects=50, clock=clock)
    for index in range(1_000):
        window.hit(f"ip-{index}", limit=10, window_ms=WINDOW_MS)
    assert len(window._logs) == 50


def test_reset_is_the_full_window_for_a_fresh_subject(clock: FakeClock) -> None:
    decision = LocalSlidingWindow(clock=clock).hit("fresh", limit=10, window_ms=WINDOW_MS)
    assert decision.admitted
    assert decision.reset_s == 60
    assert decision.limit == 10
