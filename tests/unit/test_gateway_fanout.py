"""The gateway's fan-out without a server: inline writes, hand-over when a socket lags, eviction,
drain and lifetime, against a fake connection whose `send` suspends (before writing) while its
socket is "full". That is the contract of services/gateway/inline_send.py, which
tests/integration/test_inline_send.py checks against real uvicorn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from scoreboard.telemetry.metrics import Metrics
from services.gateway.broadcaster import Broadcaster
from services.gateway.frames import PING, Frame, frame
from services.gateway.sse_response import SubscriberStream
from services.gateway.subscriber import Subscriber


class FakeConnection:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.gone = asyncio.Event()
        self._requested = False

    async def send(self, message: dict[str, Any]) -> None:
        if not self.writable.is_set():
            await self.writable.wait()
        self.messages.append(message)

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    @property
    def ended(self) -> bool:
        return bool(self.messages) and self.messages[-1].get("more_body") is False


def top(version: int) -> Frame:
    return frame("leaderboard_updated", b'{"v":%d}' % version, f"{version}-0", is_top=True)


def user(n: int) -> Frame:
    return frame("user_score_updated", b'{"n":%d}' % n, f"{n}-1")


class Setup:
    def __init__(self, *, capacity: int = 8, send_timeout_s: float = 10.0) -> None:
        unused = Redis()  # never connects: these tests do not read the stream
        self.broadcaster = Broadcaster(unused, unused, Metrics("gateway"), send_timeout_s=send_timeout_s)
        self.subscriber = self.broadcaster.subscribe(None, capacity)
        self.connection = FakeConnection()
        self.closed: list[bool] = []
        stream = SubscriberStream(
            self.subscriber,
            [b": welcome\n\n"],
            headers=[],
            draining=lambda: self.broadcaster.draining,
            goodbye=lambda reason: f": {reason}\n\n".encode(),
            on_close=self._on_close,
        )
        self.task = asyncio.create_task(stream(self.connection.receive, self.connection.send))

    def _on_close(self, subscriber: Subscriber, evicted: bool) -> None:
        self.closed.append(evicted)
        self.broadcaster.unsubscribe(subscriber)

    async def until_idle(self) -> None:
        async with asyncio.timeout(2):
            while not self.subscriber.idle:
                await asyncio.sleep(0)

    async def finished(self) -> None:
        async with asyncio.timeout(3):
            await self.task


async def test_frames_are_written_inline_while_the_socket_keeps_up() -> None:
    setup = Setup()
    await setup.until_idle()
    setup.subscriber.offer(top(1))
    setup.subscriber.offer(user(2))
    assert setup.connection.body == b": welcome\n\n" + top(1).payload + user(2).payload  # no await
    setup.connection.gone.set()
    await setup.finished()
    assert setup.closed == [False]
    assert setup.broadcaster.subscribers == set()


async def test_a_lagging_socket_gets_the_rest_in_order_with_the_top_10_conflated() -> None:
    setup = Setup()
    await setup.until_idle()
    setup.connection.writable.clear()
    for item in (top(1), user(2), top(3), user(4), top(5)):
        setup.subscriber.offer(item)
    await asyncio.sleep(0.05)
    assert setup.subscriber.write_started > 0  # the hand-over write is blocked
    setup.connection.writable.set()
    await setup.until_idle()
    expected = b": welcome\n\n" + b"".join(f.payload for f in (top(1), user(2), user(4), top(5)))
    assert setup.connection.body == expected  # top(3) was replaced by top(5)
    setup.subscriber.offer(top(6))  # back to inline writes
    assert setup.connection.body.endswith(top(6).payload)
    setup.connection.gone.set()
    await setup.finished()


async def test_a_client_that_overflows_its_buffer_is_evicted() -> None:
    setup = Setup(capacity=8)
    await setup.until_idle()
    setup.connection.writable.clear()
    for n in range(20):
        setup.subscriber.offer(user(n + 1))
    await setup.finished()
    assert setup.closed == [True]
    assert setup.broadcaster.subscribers == set()


async def test_the_sweeper_evicts_a_write_stuck_longer_than_the_send_timeout() -> None:
    setup = Setup(send_timeout_s=0.2)
    sweeper = asyncio.create_task(setup.broadcaster._sweep())
    try:
        await setup.until_idle()
        setup.connection.writable.clear()
        setup.subscriber.offer(user(1))
        await setup.finished()
        assert setup.closed == [True]
        assert setup.subscriber.evicted
    finally:
        sweeper.cancel()


async def test_drain_says_goodbye_and_ends_the_response() -> None:
    setup = Setup()
    await setup.until_idle()
    setup.broadcaster.drain()
    await setup.finished()
    assert setup.connection.body.endswith(b": server draining\n\n")
    assert setup.connection.ended
    assert setup.closed == [False]


async def test_the_lifetime_cap_asks_for_a_reconnect() -> None:
    setup = Setup()
    sweeper = asyncio.create_task(setup.broadcaster._sweep())
    try:
        await setup.until_idle()
        setup.subscriber.deadline = asyncio.get_running_loop().time()
        await setup.finished()
        assert setup.connection.body.endswith(b": connection lifetime reached\n\n")
        assert setup.connection.ended
    finally:
        sweeper.cancel()


async def test_a_heartbeat_is_written_inline_to_a_waiting_client() -> None:
    setup = Setup()
    await setup.until_idle()
    setup.subscriber.heartbeat()
    assert setup.connection.body.endswith(PING)
    setup.connection.gone.set()
    await setup.finished()


async def test_a_real_cancellation_is_not_swallowed() -> None:
    setup = Setup()
    await setup.until_idle()
    setup.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await setup.task
    assert setup.broadcaster.subscribers == set()
