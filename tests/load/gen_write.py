"""The write generator: users taking a ticket and posting a signed increment, as a game backend.

Closed loop (`concurrency` players back to back) or open loop (`phases` of offered rates, each
operation started on schedule whether or not the previous one finished; its latency counts from
that scheduled moment, so a slow server cannot hide its queueing: no coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

import orjson

from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.client import build_increment_request
from tests.factories import JWT_SECRET, SIGNING_KEYS
from tests.load.http import Connection, HttpError
from tests.load.procs import CONNECTED, DONE, ERRORS, EXTRA, Control
from tests.load.stats import Histogram

TICKET_BODY = orjson.dumps({"type": "default"})
Acks = list[tuple[str, int, float]]
MAX_IN_FLIGHT = 512  # open loop: beyond this many started-and-unfinished operations, shed


@dataclass
class WriteConfig:
    host: str
    port: int
    users: list[tuple[str, str]]  # (user id, display name)
    concurrency: int = 16  # connections (closed loop: also the number of players in flight)
    duration_s: float = 10.0  # closed loop
    phases: list[tuple[float, float]] = field(default_factory=list)  # open loop: (ops/s, seconds)
    record_acks: bool = False  # e2e: remember (user, newScore, wall time of the 200)
    seed: int = 0


@dataclass
class PhaseResult:
    offered_per_s: float
    seconds: float
    ok: int = 0
    errors: int = 0
    shed: int = 0
    increment: Histogram = field(default_factory=Histogram)  # POST /api/scores/increment alone
    action: Histogram = field(default_factory=Histogram)  # ticket + increment, from its scheduled start
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class WriteResult:
    phases: list[PhaseResult]
    acks: list[tuple[str, int, float]] = field(default_factory=list)


class Player:
    def __init__(self, user_id: str, name: str) -> None:
        self.user_id = user_id
        self.token = mint_dev_token(JWT_SECRET, user_id=uuid.UUID(user_id), name=name, ttl_s=900)
        self.auth = {"authorization": f"Bearer {self.token}", "content-type": "application/json"}

    def increment(self, ticket_body: bytes, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """The signed increment for a ticket (the body of a 201): its headers and JSON body."""
        ticket = orjson.loads(ticket_body)
        signed = build_increment_request(
            token=self.token,
            signing_key=SIGNING_KEYS["default"],
            user_id=self.user_id,
            action_id=ticket["actionId"],
            nonce=ticket["nonce"],
            timestamp=timestamp,
        )
        return signed.headers, orjson.dumps(signed.body)


async def play_once(
    connection: Connection, player: Player, result: PhaseResult, scheduled: float, acks: Acks | None
) -> bool:
    try:
        ticket = await connection.request("POST", "/api/actions", player.auth, TICKET_BODY)
        if ticket.status != 201:
            return _failed(result, f"ticket-{ticket.status}")
        headers, body = player.increment(ticket.body, timestamp=int(time.time()))
        sent = time.perf_counter()
        reply = await connection.request("POST", "/api/scores/increment", headers, body)
    except HttpError as error:
        return _failed(result, f"io-{str(error).split(':')[0]}")
    done = time.perf_counter()
    if reply.status != 200:
        return _failed(result, f"increment-{reply.status}")
    result.ok += 1
    result.increment.record(done - sent)
    result.action.record(done - scheduled)
    if acks is not None:
        acks.append((player.user_id, int(orjson.loads(reply.body)["newScore"]), time.time()))
    return True


def _failed(result: PhaseResult, status: str) -> bool:
    result.errors += 1
    result.statuses[status] = result.statuses.get(status, 0) + 1
    return False


async def run(config: WriteConfig, control: Control) -> WriteResult:
    rng = random.Random(config.seed)
    players = [Player(user_id, name) for user_id, name in config.users]
    connections = [Connection(config.host, config.port) for _ in range(config.concurrency)]
    acks: Acks | None = [] if config.record_acks else None
    control.set(CONNECTED, 1)
    await control.wait_go()
    try:
        if config.phases:
            phases = [
                await _open_loop(config, control, players, connections, rng, p, acks) for p in config.phases
            ]
        else:
            phases = [await _closed_loop(config, control, players, connections, rng, acks)]
    finally:
        for connection in connections:
            connection.close()
    return WriteResult(phases, acks or [])


async def _closed_loop(
    config: WriteConfig,
    control: Control,
    players: list[Player],
    connections: list[Connection],
    rng: random.Random,
    acks: Acks | None,
) -> PhaseResult:
    result = PhaseResult(0.0, config.duration_s)
    deadline = time.perf_counter() + config.duration_s

    async def player_loop(connection: Connection) -> None:
        while time.perf_counter() < deadline and not control.stop.is_set():
            ok = await play_once(connection, rng.choice(players), result, time.perf_counter(), acks)
            control.add(DONE if ok else ERRORS)

    started = time.perf_counter()
    await asyncio.gather(*(player_loop(c) for c in connections))
    result.seconds = time.perf_counter() - started
    return result


async def _open_loop(
    config: WriteConfig,
    control: Control,
    players: list[Player],
    connections: list[Connection],
    rng: random.Random,
    phase: tuple[float, float],
    acks: Acks | None,
) -> PhaseResult:
    rate, seconds = phase
    result = PhaseResult(rate, seconds)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in connections:
        idle.put_nowait(connection)
    in_flight: set[asyncio.Task[None]] = set()

    async def operation(scheduled: float) -> None:
        connection = await idle.get()
        try:
            ok = await play_once(connection, rng.choice(players), result, scheduled, acks)
            control.add(DONE if ok else ERRORS)
        finally:
            idle.put_nowait(connection)

    control.set(EXTRA, int(rate))
    interval = 1.0 / rate
    started = time.perf_counter()
    issued = 0
    while (now := time.perf_counter()) < started + seconds and not control.stop.is_set():
        due = int((now - started) / interval) + 1
        for _ in range(due - issued):
            scheduled = started + issued * interval
            issued += 1
            if len(in_flight) >= MAX_IN_FLIGHT:
                result.shed += 1
                control.add(ERRORS)
                continue
            task = asyncio.create_task(operation(scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.sleep(max(0.0, started + issued * interval - time.perf_counter()))
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    return result
