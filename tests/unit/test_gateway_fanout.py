"""The gateway's fan-out without a server: own events written inline, the Top 10 paced, hand-over
when a socket lags, eviction, drain and lifetime, against a fake connection whose `send`
suspends (before writing) while its socket is "full". That is the contract of
services/gateway/inline_send.py, which tests/integration/test_inline_send.py checks against real
uvicorn."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from scoreboard.redis_store.events import StreamEvent
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import PING, Frame, frame
from services.gateway.metrics import GatewayMetrics
from services.gateway.pacer import CHUNK
from services.gateway.sse_response import SubscriberStream
from services.gateway.state_interval import StateInterval
from services.gateway.subscriber import Subscriber

BOARD = "global"


class FakeConnection:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.written_at: list[float] = []  # loop time of each message, as the server wrote it
        self.writable = asyncio.Event()
        self.writable.set()
        self.gone = asyncio.Event()
        self._requested = False

    async def send(self, message: dict[str, Any]) -> None:
        if not self.writable.is_set():
            await self.writable.wait()
        self.messages.append(message)
        self.written_at.append(asyncio.get_running_loop().time())

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    def top_times(self) -> list[float]:
        return [
            t
            for m, t in zip(self.messages, self.written_at, strict=True)
            if b"leaderboard" in m.get("body", b"")
        ]

    @property
    def ended(self) -> bool:
        return bool(self.messages) and self.messages[-1].get("more_body") is False


def top_event(version: int, entry_id: str | None = None) -> StreamEvent:
    data = orjson.dumps(
        {"type": "leaderboard_updated", "board": BOARD, "window": "all", "version": version, "top10": []}
    )
    return StreamEvent(
        entry_id or f"{version}-0", "leaderboard_updated", BOARD, "all", data, None, True, 0, None
    )


def own_event(user: str, score: int, entry_id: str, *, public: bool = False) -> StreamEvent:
    data = orjson.dumps({"type": "user_score_updated", "board": BOARD, "userId": user, "newScore": score})
    return StreamEvent(entry_id, "user_score_updated", BOARD, "all", data, user, public, 0, None)


def own(user: str, score: int, entry_id: str) -> Frame:
    event = own_event(user, score, entry_id)
    return frame(event.type, event.data, event.id)


def top(version: int) -> Frame:
    event = top_event(version)
    return frame(event.type, event.data, event.id)


def versions(body: bytes) -> list[int]:
    return [
        orjson.loads(line[6:])["version"]
        for line in body.split(b"\n")
        if line.startswith(b"data: ") and b"leaderboard_updated" in line
    ]


def scores(body: bytes) -> list[int]:
    return [
        orjson.loads(line[6:])["newScore"]
        for line in body.split(b"\n")
        if line.startswith(b"data: ") and b"user_score_updated" in line
    ]


class Client:
    """One connection's stream task on a fake connection."""

    def __init__(self, broadcaster: Broadcaster, user_id: str | None = None) -> None:
        self.broadcaster = broadcaster
        self.subscriber = broadcaster.subscribe(BOARD, user_id)
        self.connection = FakeConnection()
        self.closed: list[bool] = []
        stream = SubscriberStream(
            self.subscriber,
            [b": welcome\n\n"],
            headers=[],
            draining=lambda: broadcaster.draining,
            goodbye=lambda reason: f": {reason}\n\n".encode(),
            on_close=self._on_close,
        )
        self.task = asyncio.create_task(stream(self.connection.receive, self.connection.send))

    @classmethod
    async def connected(cls, broadcaster: Broadcaster, user_id: str | None = None) -> Client:
        """A client whose stream has written its welcome and now waits for events."""
        client = cls(broadcaster, user_id)
        await client.until_idle()
        return client

    @classmethod
    async def lagging(cls, broadcaster: Broadcaster, user_id: str | None = None) -> Client:
        """A connected client whose socket has stopped taking writes: its reader fell behind."""
        client = await cls.connected(broadcaster, user_id)
        client.connection.writable.clear()
        return client

    def _on_close(self, subscriber: Subscriber, evicted: bool) -> None:
        self.closed.append(evicted)
        self.broadcaster.unsubscribe(subscriber)

    async def until_idle(self) -> None:
        async with asyncio.timeout(2):
            while not self.subscriber.idle or self.subscriber.kicked:
                await asyncio.sleep(0)

    async def finished(self) -> None:
        async with asyncio.timeout(3):
            await self.task

    async def leave(self) -> None:
        self.connection.gone.set()
        await self.finished()


def make_broadcaster(
    *, interval_s: float = 0.25, max_s: float = 4.0, send_timeout_s: float = 10.0
) -> Broadcaster:
    metrics = GatewayMetrics()
    unused = Redis()  # never connects: these tests do not read the stream
    interval = StateInterval(interval_s, max_s, metrics.sse_state_interval)
    return Broadcaster(unused, unused, metrics, interval, send_timeout_s=send_timeout_s)


@asynccontextmanager
async def sweeping(broadcaster: Broadcaster) -> AsyncIterator[None]:
    """The broadcaster's sweeper running for the block, as the gateway's lifespan runs it."""
    sweeper = asyncio.create_task(broadcaster._sweep())
    try:
        yield
    finally:
        sweeper.cancel()


# --- the connection: inline writes, hand-over, eviction, drain -------------------------------


async def test_own_events_are_written_inline_while_the_socket_keeps_up() -> None:
    broadcaster = make_broadcaster()
    alice = str(uuid.uuid4())
    client = await Client.connected(broadcaster, alice)
    broadcaster.dispatch(own_event(alice, 5, "1-0"))
    assert client.connection.body == b": welcome\n\n" + own(alice, 5, "1-0").payload  # no await
    await client.leave()
    assert client.closed == [False]
    assert broadcaster.subscribers == set()
    assert broadcaster.boards[BOARD].owners == {}


async def test_the_same_state_announced_twice_reaches_its_owner_once() -> None:
    broadcaster = make_broadcaster()
    alice = str(uuid.uuid4())
    client = await Client.connected(broadcaster, alice)
    for score, entry_id in ((5, "1-0"), (5, "2-0"), (6, "3-0"), (5, "4-0")):
        broadcaster.dispatch(own_event(alice, score, entry_id))
    assert scores(client.connection.body) == [5, 6, 5]  # a repeat is dropped, a return is news
    await client.leave()


async def test_a_lagging_socket_gets_the_newest_of_each_in_stream_order() -> None:
    broadcaster = make_broadcaster()
    alice = str(uuid.uuid4())
    client = await Client.lagging(broadcaster, alice)
    subscriber = client.subscriber
    subscriber.offer_own(own(alice, 1, "1-0"))  # the write the socket cannot take: handed over
    subscriber.offer_top(top(2), 2, 0.0)
    subscriber.offer_own(own(alice, 3, "3-0"))
    subscriber.offer_top(top(4), 4, 0.0)
    subscriber.offer_own(own(alice, 5, "5-0"))
    await asyncio.sleep(0.05)
    assert subscriber.write_started > 0  # the hand-over write is blocked
    client.connection.writable.set()
    await client.until_idle()
    expected = [own(alice, 1, "1-0"), top(4), own(alice, 5, "5-0")]  # conflated, ids ascending
    assert client.connection.body == b": welcome\n\n" + b"".join(f.payload for f in expected)
    subscriber.offer_own(own(alice, 6, "6-0"))  # back to inline writes
    assert client.connection.body.endswith(own(alice, 6, "6-0").payload)
    await client.leave()


async def test_a_lagging_client_holds_two_frames_at_most_and_is_never_evicted_for_it() -> None:
    broadcaster = make_broadcaster()
    alice = str(uuid.uuid4())
    client = await Client.lagging(broadcaster, alice)
    for n in range(1, 1000):
        client.subscriber.offer_own(own(alice, n, f"{n}-0"))
        client.subscriber.offer_top(top(n), n, 0.0)
    assert client.subscriber.own is not None
    assert client.subscriber.top is not None
    client.connection.writable.set()
    await client.until_idle()
    assert scores(client.connection.body) == [1, 999]  # the first (handed over), then the newest
    assert versions(client.connection.body) == [999]
    assert client.closed == []
    await client.leave()


async def test_the_sweeper_evicts_a_write_stuck_longer_than_the_send_timeout() -> None:
    broadcaster = make_broadcaster(send_timeout_s=0.2)
    alice = str(uuid.uuid4())
    client = await Client.lagging(broadcaster, alice)
    async with sweeping(broadcaster):
        broadcaster.dispatch(own_event(alice, 1, "1-0"))
        await client.finished()
    assert client.closed == [True]
    assert client.subscriber.evicted


async def test_drain_says_goodbye_and_ends_the_response() -> None:
    broadcaster = make_broadcaster()
    client = await Client.connected(broadcaster)
    broadcaster.drain()
    await client.finished()
    assert client.connection.body.endswith(b": server draining\n\n")
    assert client.connection.ended
    assert client.closed == [False]


async def test_the_lifetime_cap_asks_for_a_reconnect() -> None:
    broadcaster = make_broadcaster()
    client = Client(broadcaster)
    async with sweeping(broadcaster):
        await client.until_idle()
        client.subscriber.deadline = asyncio.get_running_loop().time()
        await client.finished()
    assert client.connection.body.endswith(b": connection lifetime reached\n\n")
    assert client.connection.ended


async def test_a_heartbeat_is_written_inline_to_a_waiting_client() -> None:
    broadcaster = make_broadcaster()
    client = await Client.connected(broadcaster)
    client.subscriber.heartbeat()
    assert client.connection.body.endswith(PING)
    await client.leave()


async def test_a_real_cancellation_is_not_swallowed() -> None:
    broadcaster = make_broadcaster()
    client = await Client.connected(broadcaster)
    client.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client.task
    assert broadcaster.subscribers == set()


# --- routing: state for everyone, own events for their owner ---------------------------------


async def test_a_score_event_reaches_its_owner_alone_even_when_flagged_public() -> None:
    broadcaster = make_broadcaster()
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    clients = {
        "alice": Client(broadcaster, alice),
        "bob": Client(broadcaster, bob),
        "public": Client(broadcaster),
    }
    for client in clients.values():
        await client.until_idle()
    broadcaster.dispatch(own_event(alice, 7, "1-0", public=True))  # an older worker's flag
    broadcaster.dispatch(own_event(bob, 8, "2-0"))
    assert scores(clients["alice"].connection.body) == [7]
    assert scores(clients["bob"].connection.body) == [8]
    assert b"user_score_updated" not in clients["public"].connection.body
    for client in clients.values():
        await client.leave()


async def test_an_older_top_10_never_replaces_a_newer_one() -> None:
    broadcaster = make_broadcaster()
    board = broadcaster.boards[BOARD]
    broadcaster.dispatch(top_event(5, "10-0"))
    broadcaster.dispatch(top_event(4, "11-0"))  # a slower worker's older state
    assert board.version == 5
    broadcaster.dispatch(top_event(9, "12-0"))  # a forced republish (e.g. privacy) is newer
    assert board.version == 9
    assert broadcaster.position == "12-0"


@asynccontextmanager
async def paced_client(interval_s: float) -> AsyncIterator[Client]:
    """A client connected to a broadcaster of its own whose pacer runs for the block, as the
    gateway runs it, sending the Top 10 at most once per `interval_s`."""
    broadcaster = make_broadcaster(interval_s=interval_s)
    pacer = asyncio.create_task(broadcaster.pacers[BOARD].run())
    client = await Client.connected(broadcaster)
    try:
        yield client
    finally:
        pacer.cancel()
        await client.leave()


# --- pacing ----------------------------------------------------------------------------------


async def test_a_change_after_a_quiet_interval_goes_out_at_once() -> None:
    async with paced_client(interval_s=5.0) as client:  # held back, it would take seconds
        client.broadcaster.dispatch(top_event(1))
        async with asyncio.timeout(2):
            while not versions(client.connection.body):
                await asyncio.sleep(0.001)
        assert versions(client.connection.body) == [1]


async def test_a_flood_of_changes_sends_at_most_one_per_interval_always_the_newest() -> None:
    interval = 0.1
    loop = asyncio.get_running_loop()
    async with paced_client(interval) as client:
        started = loop.time()
        for version in range(1, 201):  # a change every 5 ms (or slower) for a second (or longer)
            client.broadcaster.dispatch(top_event(version))
            await asyncio.sleep(0.005)
        elapsed = loop.time() - started
        async with asyncio.timeout(2):
            while versions(client.connection.body)[-1:] != [200]:  # the newest state arrives
                await asyncio.sleep(0.01)
    got = versions(client.connection.body)
    assert got == sorted(set(got))  # never an older (or the same) Top 10 again
    assert len(got) <= elapsed / interval + 2
    gaps = [b - a for a, b in itertools.pairwise(client.connection.top_times())]
    assert min(gaps) >= interval - 0.006, gaps  # the pacer's timer slack, no more


async def test_a_client_that_just_got_a_snapshot_waits_an_interval_for_the_next() -> None:
    interval = 1.0
    loop = asyncio.get_running_loop()
    async with paced_client(interval) as client:
        greeted = loop.time()
        client.subscriber.top_version, client.subscriber.top_at = (0, 0), greeted  # as its greeting does
        client.broadcaster.dispatch(top_event(1))
        await asyncio.sleep(0.1)
        assert versions(client.connection.body) == []  # too soon after its snapshot
        async with asyncio.timeout(3):
            while not versions(client.connection.body):
                await asyncio.sleep(0.01)
    assert versions(client.connection.body) == [1]
    assert client.connection.top_times()[0] - greeted >= interval - 0.006


async def test_an_owners_event_is_not_held_behind_a_pass_over_every_listener() -> None:
    broadcaster = make_broadcaster()
    alice = str(uuid.uuid4())
    listeners = [Client(broadcaster) for _ in range(CHUNK * 4)]
    owner = Client(broadcaster, alice)
    for client in [*listeners, owner]:
        await client.until_idle()
    broadcaster.boards[BOARD].update_top(top(1), 1, "all")
    passing = asyncio.create_task(
        broadcaster.pacers[BOARD].send_pass(asyncio.get_running_loop().time(), 0.25)
    )
    await asyncio.sleep(0)  # the pass writes one chunk, then yields
    assert not passing.done()
    broadcaster.dispatch(own_event(alice, 42, "2-0"))
    assert scores(owner.connection.body) == [42]  # written now, while the pass is still going
    await passing
    assert all(versions(client.connection.body) == [1] for client in [*listeners, owner])
    for client in [*listeners, owner]:
        await client.leave()


# --- the interval in force ----------------------------------------------------------------------


def test_the_interval_widens_while_the_loop_stays_behind_and_narrows_back() -> None:
    metrics = GatewayMetrics()
    interval = StateInterval(0.25, 1.0, metrics.sse_state_interval)
    interval.observe(0.3, now=0.0)
    interval.observe(0.0, now=0.1)  # one late timer is noise (a descheduled process)
    interval.observe(0.3, now=0.2)
    interval.observe(0.3, now=0.3)
    assert interval.seconds == 0.25
    interval.observe(0.3, now=0.4)  # three in a row: behind
    assert interval.seconds == pytest.approx(0.375)
    for step in range(3):
        interval.observe(0.3, now=0.5 + step * 0.1)  # too soon: the widening has not shown yet
    assert interval.seconds == pytest.approx(0.375)
    for step in range(1, 40):
        interval.observe(0.3, now=1.0 + step * 0.5)
    assert interval.seconds == 1.0  # capped
    assert metrics.sse_state_interval._value.get() == 1.0
    interval.observe(0.03, now=30.0)  # neither behind nor caught up: unchanged
    assert interval.seconds == 1.0
    for step in range(100):
        interval.observe(0.0, now=31.0 + step * 0.1)
    assert interval.seconds == 0.25  # back to the configured interval, not below
