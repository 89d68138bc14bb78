"""Which multi-region option keeps the guarantees (docs/scaling.md: Multi-region): regional writes
merged like a CRDT, or a single write leader. The model is tests/multi_region.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.multi_region import CrdtRegions, Scenario, WriteLeader, simulate

# Replies lost while the regions cannot talk: clients retry the same action id in the other region.
PARTITIONED = Scenario(seed=7, partition=(3_000, 6_000), lost_reply=0.2)

scenarios = st.builds(
    Scenario,
    seed=st.integers(0, 10_000),
    users=st.integers(2, 40),
    actions=st.integers(1, 200),
    skew_ms=st.tuples(st.integers(-500, 500), st.integers(-500, 500)),
    link_ms=st.integers(5, 150),
    backlog_ms=st.sampled_from([0, 200, 2_000]),
    partition=st.none()
    | st.tuples(st.integers(0, 5_000), st.integers(1, 5_000)).map(lambda gap: (gap[0], gap[0] + gap[1])),
    lost_reply=st.sampled_from([0.0, 0.1, 0.5]),
)


def test_a_retry_in_the_other_region_counts_twice_under_crdt_merge() -> None:
    outcome = simulate(PARTITIONED, CrdtRegions)

    assert outcome.double_counted > 0
    assert outcome.lost == 0
    assert outcome.rankings["a"] != outcome.true_ranking  # the extra points are on the board for good


def test_the_same_retries_count_once_under_a_single_write_leader() -> None:
    outcome = simulate(PARTITIONED, WriteLeader)

    assert outcome.double_counted == 0
    assert outcome.lost == 0
    assert outcome.rankings["a"] == outcome.rankings["b"] == outcome.true_ranking


def test_crdt_merge_is_exactly_once_only_while_replication_beats_the_client_timeout() -> None:
    healthy = Scenario(seed=7, lost_reply=0.2, timeout_ms=500)
    behind = Scenario(seed=7, lost_reply=0.2, timeout_ms=500, backlog_ms=1_000)  # replication lags 1 s

    assert simulate(healthy, CrdtRegions).double_counted == 0
    assert simulate(behind, CrdtRegions).double_counted > 0
    assert simulate(behind, WriteLeader).double_counted == 0


def test_skewed_clocks_order_a_tie_against_the_truth_under_crdt_merge() -> None:
    # User 1 reaches 1 point in region a, 100 ms later user 2 does in b, whose clock is 300 ms behind.
    tie = Scenario(skew_ms=(0, -300), plays=((1_000, 1, "a"), (1_100, 2, "b")))

    crdt, leader = simulate(tie, CrdtRegions), simulate(tie, WriteLeader)

    assert crdt.true_ranking == [(1, 1), (2, 1)]
    assert crdt.rankings["a"] == crdt.rankings["b"] == [(2, 1), (1, 1)]  # one order, the wrong one
    # The leader commits user 1 first and user 2 when b's forward arrives: one clock, one order.
    assert leader.rankings["a"] == leader.rankings["b"] == leader.true_ranking == [(1, 1), (2, 1)]


def test_even_a_millisecond_of_skew_misorders_ties_under_crdt_merge() -> None:
    runs = [Scenario(seed=seed, users=50, actions=200, skew_ms=(0, -1)) for seed in range(100)]

    misordered = [run.seed for run in runs if _crdt_order_differs_from_the_truth(run)]

    assert misordered  # a few runs in a hundred: ties less than 1 ms apart, decided by the clocks


def _crdt_order_differs_from_the_truth(scenario: Scenario) -> bool:
    outcome = simulate(scenario, CrdtRegions)
    assert outcome.double_counted == 0  # no retries here: only the order can be wrong
    return outcome.rankings["a"] != outcome.true_ranking


def test_during_a_partition_crdt_regions_take_writes_and_the_leaders_follower_cannot() -> None:
    crdt, leader = simulate(PARTITIONED, CrdtRegions), simulate(PARTITIONED, WriteLeader)

    for region in ("a", "b"):
        assert crdt.offered_in_partition[region] > 0
        assert crdt.accepted_in_partition[region] == crdt.offered_in_partition[region]
    assert leader.offered_in_partition["b"] > 0
    assert leader.accepted_in_partition["b"] == 0
    assert leader.accepted_in_partition["a"] == leader.offered_in_partition["a"]


def test_the_leader_costs_a_far_region_one_round_trip_between_regions() -> None:
    leader = simulate(Scenario(seed=3, link_ms=40), WriteLeader)

    assert max(leader.ack_ms["a"]) <= 2
    assert min(leader.ack_ms["b"]) >= 2 * 40


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios)
def test_a_single_write_leader_always_counts_once_in_one_order_and_converges(scenario: Scenario) -> None:
    outcome = simulate(scenario, WriteLeader)

    assert outcome.double_counted == 0
    assert outcome.lost == 0
    assert outcome.rankings["a"] == outcome.rankings["b"] == outcome.true_ranking


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios)
def test_crdt_regions_always_converge_and_always_take_writes(scenario: Scenario) -> None:
    outcome = simulate(scenario, CrdtRegions)

    assert outcome.lost == 0
    assert outcome.rankings["a"] == outcome.rankings["b"]
    assert outcome.accepted_in_partition == outcome.offered_in_partition


def test_the_model_is_deterministic() -> None:
    assert simulate(PARTITIONED, CrdtRegions) == simulate(PARTITIONED, CrdtRegions)
