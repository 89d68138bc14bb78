"""Two regions, two ways to take writes: a deterministic model for docs/scaling.md (Multi-region).

Not the shipped code: it models the guarantees of ARCHITECTURE.md (Invariants: exactly once, one
ranking order) under the two options the specification names, with clients that retry the same
action id in the other region after a timeout, a partition between the regions and skewed clocks.

* `CrdtRegions`: each region takes writes alone. Per user, a G-counter (points per origin region,
  merged by max), the newest stamp per origin (by that region's clock, merged by max) and the set of
  action ids seen (merged by union) travel between regions after each write.
* `WriteLeader`: region "a" holds the one writable database (`unique(user_id, action_id)`, the
  commit stamped by its clock); "b" forwards writes to it and reads from a replica of its log.

Time is in milliseconds of true time; every random draw comes from the scenario's seed.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

REGIONS = ("a", "b")
LOCAL_MS = 1.0  # a client to the region that answers it


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    users: int = 8
    actions: int = 300
    duration_ms: float = 10_000
    skew_ms: tuple[float, float] = (0, 0)  # each region's clock minus true time
    link_ms: float = 40  # one way, region to region (and a client to the region far from it)
    backlog_ms: float = 0  # replication queued behind other work, on top of the link
    partition: tuple[float, float] | None = None  # [start, end): the regions cannot talk
    lost_reply: float = 0.0  # chance an answer never reaches the client (the write did happen)
    timeout_ms: float = 500  # the client then retries, same action id, in the other region
    max_attempts: int = 4
    plays: tuple[tuple[float, int, str], ...] = ()  # (time, user, home region) instead of random ones


@dataclass
class Outcome:
    rankings: dict[str, list[tuple[int, int]]]  # region -> [(user, score)] in its rank order
    true_ranking: list[tuple[int, int]]  # each action once, ties by the true time a score was reached
    double_counted: int  # extra counts of actions counted more than once
    lost: int  # acknowledged actions counted nowhere
    offered_in_partition: Counter[str] = field(default_factory=Counter)  # attempts per receiving region
    accepted_in_partition: Counter[str] = field(default_factory=Counter)
    ack_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # per home region


class Simulation:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.counted: Counter[int] = Counter()  # action id -> times it was counted
        self.first_counted: dict[int, tuple[float, int]] = {}  # action id -> (true time, user)

    def at(self, time: float, event: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (time, next(self._order), event))

    def link_up(self, time: float) -> bool:
        gap = self.scenario.partition
        return gap is None or not gap[0] <= time < gap[1]

    def send(self, event: Callable[[], None], *, replication: bool = False) -> None:
        """Region to region: held while partitioned, delivered in order once healed."""
        gap = self.scenario.partition
        leaves = self.now if self.link_up(self.now) or gap is None else gap[1]
        backlog = self.scenario.backlog_ms if replication else 0
        self.at(leaves + self.scenario.link_ms + backlog, event)

    def clock(self, region: str) -> float:
        return self.now + self.scenario.skew_ms[REGIONS.index(region)]

    def count(self, action: int, user: int) -> None:
        self.counted[action] += 1
        self.first_counted.setdefault(action, (self.now, user))

    def run(self) -> None:
        while self._queue:
            self.now, _, event = heapq.heappop(self._queue)
            event()


View = dict[int, tuple[int, float]]  # user -> (score, stamp of when it was reached)


class CrdtRegions:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.points = {r: defaultdict[tuple[int, str], int](int) for r in REGIONS}  # (user, origin)
        self.stamps = {r: defaultdict[tuple[int, str], float](float) for r in REGIONS}
        self.seen: dict[str, set[int]] = {r: set() for r in REGIONS}

    def write(self, region: str, user: int, action: int) -> float | None:
        if action not in self.seen[region]:  # idempotent only as far as this region knows
            self.seen[region].add(action)
            key = (user, region)
            self.points[region][key] += 1
            self.stamps[region][key] = self.sim.clock(region)
            self.sim.count(action, user)
            other = REGIONS[1 - REGIONS.index(region)]
            delta = (key, self.points[region][key], self.stamps[region][key], action)
            self.sim.send(lambda: self._merge(other, *delta), replication=True)
        return 0.0

    def _merge(self, region: str, key: tuple[int, str], points: int, stamp: float, action: int) -> None:
        self.points[region][key] = max(self.points[region][key], points)
        self.stamps[region][key] = max(self.stamps[region][key], stamp)
        self.seen[region].add(action)

    def view(self, region: str) -> View:
        found: dict[int, tuple[int, float]] = {}
        for (user, origin), points in self.points[region].items():
            score, stamp = found.get(user, (0, 0.0))
            found[user] = (score + points, max(stamp, self.stamps[region][(user, origin)]))
        return found


class WriteLeader:
    leader = REGIONS[0]

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.seen: set[int] = set()  # unique(user_id, action_id)
        self.rows: View = {}
        self.replica: View = {}

    def write(self, region: str, user: int, action: int) -> float | None:
        if region == self.leader:
            self._commit(user, action)
            return 0.0
        if not self.sim.link_up(self.sim.now):
            return None  # a follower cannot take a write alone: 503, the client retries
        self.sim.send(lambda: self._commit(user, action))
        return 2 * self.sim.scenario.link_ms

    def _commit(self, user: int, action: int) -> None:
        if action in self.seen:
            return  # a replay: the stored answer
        self.seen.add(action)
        self.sim.count(action, user)
        row = (self.rows.get(user, (0, 0.0))[0] + 1, self.sim.clock(self.leader))
        self.rows[user] = row
        self.sim.send(lambda: self._replicate(user, row), replication=True)

    def _replicate(self, user: int, row: tuple[int, float]) -> None:
        if row[0] > self.replica.get(user, (0, 0.0))[0]:  # applied only if newer, as the worker does
            self.replica[user] = row

    def view(self, region: str) -> View:
        return self.rows if region == self.leader else self.replica


# write(region, user, action): how long after it the answer leaves the region, None if refused.
Design = CrdtRegions | WriteLeader


def ranking(view: View) -> list[tuple[int, int]]:
    """Score descending, then who reached it first, then user id (ARCHITECTURE.md: Ranking)."""
    order = sorted(view.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
    return [(user, score) for user, (score, _) in order]


def _plays(scenario: Scenario) -> list[tuple[float, int, str]]:
    if scenario.plays:
        return list(scenario.plays)
    rng = random.Random(scenario.seed)
    return [
        (rng.uniform(0, scenario.duration_ms), rng.randrange(scenario.users), rng.choice(REGIONS))
        for _ in range(scenario.actions)
    ]


def simulate(scenario: Scenario, make: Callable[[Simulation], Design]) -> Outcome:
    sim = Simulation(scenario)
    design = make(sim)
    replies = random.Random(scenario.seed + 1)
    outcome = Outcome({}, [], 0, 0)
    acked: dict[int, float] = {}
    tries_made: dict[int, int] = {}

    def attempt(action: int, user: int, home: str, tries: int) -> None:
        if action in acked or tries == scenario.max_attempts or tries_made.get(action, -1) >= tries:
            return  # answered, given up, or a newer attempt went out already
        tries_made[action] = tries
        region = REGIONS[(REGIONS.index(home) + tries) % 2]  # home first, then the other, in turn
        trip = LOCAL_MS if region == home else scenario.link_ms  # a client far from the region it calls
        sim.at(sim.now + trip, partial(arrive, action, user, home, tries, region, trip))
        sim.at(sim.now + scenario.timeout_ms, partial(attempt, action, user, home, tries + 1))

    def arrive(action: int, user: int, home: str, tries: int, region: str, trip: float) -> None:
        in_partition = not sim.link_up(sim.now)
        outcome.offered_in_partition[region] += in_partition
        extra = design.write(region, user, action)
        if extra is None:  # refused at once (503): the client tries the other region now
            sim.at(sim.now + trip, partial(attempt, action, user, home, tries + 1))
            return
        outcome.accepted_in_partition[region] += in_partition
        if replies.random() >= scenario.lost_reply:
            sim.at(sim.now + extra + trip, partial(answered, action))

    def answered(action: int) -> None:
        acked.setdefault(action, sim.now)

    plays = _plays(scenario)
    for action, (time, user, home) in enumerate(plays):
        sim.at(time, partial(attempt, action, user, home, 0))
    sim.run()

    outcome.rankings = {region: ranking(design.view(region)) for region in REGIONS}
    truth: View = {}
    for time, user in sorted(sim.first_counted.values()):
        truth[user] = (truth.get(user, (0, 0.0))[0] + 1, time)
    outcome.true_ranking = ranking(truth)
    outcome.double_counted = sum(times - 1 for times in sim.counted.values())
    outcome.lost = sum(1 for action in acked if not sim.counted[action])
    for action, (time, _, home) in enumerate(plays):
        if action in acked:
            outcome.ack_ms[home].append(acked[action] - time)
    return outcome
