"""The contract services/gateway/inline_send.py relies on, checked against real uvicorn on both of
its HTTP/1.1 protocols (h11 and httptools), over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import uvicorn

from devstack.net import free_port
from services.gateway.frames import http_chunk
from services.gateway.inline_send import (
    END,
    PendingWrite,
    SendCoroutine,
    direct_cycle,
    finish,
    send_now,
    write_body,
)
from services.gateway.server import DrainingServer

pytestmark = pytest.mark.parametrize("http", ["h11", "httptools"])

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
CHUNK = b"x" * 16_384


@dataclass
class Exchange:
    """One request as the application sees it; the application returns when `done` is set."""

    send: SendCoroutine
    receive: Any
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Harness:
    def __init__(self, http: str, *, draining: bool = False) -> None:
        self.exchanges: asyncio.Queue[Exchange] = asyncio.Queue()
        self.drained = asyncio.Event()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=free_port(),
            http=http,
            interface="asgi3",
            log_config=None,
            lifespan="off",
        )
        self.server: uvicorn.Server = (
            DrainingServer(config, on_shutdown=self.drained.set) if draining else uvicorn.Server(config)
        )
        self.port = config.port

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        exchange = Exchange(cast(SendCoroutine, send), receive)
        await self.exchanges.put(exchange)
        await exchange.done.wait()
        await finish(send)

    async def connect(
        self, *, tiny_window: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = socket.socket()
        if tiny_window:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        await writer.drain()
        return reader, writer


@pytest.fixture
async def harness(http: str) -> AsyncIterator[Harness]:
    started = Harness(http)
    task = asyncio.create_task(started.server.serve())
    while not started.server.started:
        await asyncio.sleep(0.01)
    yield started
    started.server.should_exit = True
    await asyncio.wait_for(task, 10)


async def read_until(reader: asyncio.StreamReader, marker: bytes, timeout: float = 5.0) -> bytes:
    async with asyncio.timeout(timeout):
        return await reader.readuntil(marker)


def body(payload: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": payload, "more_body": True}


async def test_a_write_the_socket_takes_completes_in_one_step(harness: Harness) -> None:
    reader, writer = await harness.connect()
    exchange = await harness.exchanges.get()
    message = body(b"data: one\n\n")
    assert send_now(exchange.send, message) is None  # written without suspending
    assert message == body(b"data: one\n\n")  # the shared dict was not changed
    await read_until(reader, b"data: one\n\n")
    exchange.done.set()
    assert (await read_until(reader, b"0\r\n\r\n")).endswith(b"0\r\n\r\n")  # a complete chunked body
    writer.close()


async def test_a_client_that_stops_reading_leaves_a_pending_write_that_resumes(harness: Harness) -> None:
    reader, writer = await harness.connect(tiny_window=True)
    exchange = await harness.exchanges.get()
    pending: PendingWrite | None = None
    written = 0
    while pending is None and written < 2_000:  # at most ~32 MB: far beyond any socket buffer
        pending = send_now(exchange.send, body(CHUNK))
        written += 1
    assert pending is not None
    resumed = asyncio.ensure_future(pending)
    await asyncio.sleep(0.1)
    assert not resumed.done()  # nothing written while the client does not read
    received = 0
    wanted = written * len(CHUNK)
    async with asyncio.timeout(20):
        while received < wanted:  # reading lets the suspended write (the last chunk) go through
            received += sum(len(part) for part in (await reader.read(1 << 20)).split(b"\r\n") if b"x" in part)
    await asyncio.wait_for(resumed, 5)
    exchange.done.set()
    writer.close()


async def test_finishing_a_stuck_response_drops_the_connection_without_an_error_line(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await harness.connect(tiny_window=True)
    exchange = await harness.exchanges.get()
    for _ in range(2_000):
        pending = send_now(exchange.send, body(CHUNK))
        if pending is not None:
            pending.close()  # as an evicted client's write: abandoned
            break
    else:
        pytest.fail("the socket never filled up")
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        exchange.done.set()  # the application calls finish() and returns
        async with asyncio.timeout(10):
            while await reader.read(1 << 20):  # everything until the connection is dropped
                pass
        await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    writer.close()


async def test_one_message_dict_serves_every_connection(harness: Harness) -> None:
    connections = [await harness.connect() for _ in range(3)]
    exchanges = [await harness.exchanges.get() for _ in connections]
    shared = body(b"data: shared\n\n")
    for exchange in exchanges:
        assert send_now(exchange.send, shared) is None
    assert shared == body(b"data: shared\n\n")
    for reader, _ in connections:
        await read_until(reader, b"data: shared\n\n")
    for exchange in exchanges:
        exchange.done.set()
    for _, writer in connections:
        writer.close()


async def test_a_direct_body_write_puts_the_same_bytes_on_the_wire_as_send(
    harness: Harness, http: str
) -> None:
    reader, writer = await harness.connect()
    exchange = await harness.exchanges.get()
    await read_until(reader, b"\r\n\r\n")  # the response head
    cycle = direct_cycle(exchange.send)
    assert (cycle is not None) == (http == "httptools")  # h11 always goes through send
    payload = b"data: same\n\n"
    assert send_now(exchange.send, body(payload)) is None
    assert write_body(exchange.send, cycle, body(payload), http_chunk(payload)) is None
    wire = await read_until(reader, http_chunk(payload) * 2)
    assert wire == http_chunk(payload) * 2
    exchange.done.set()
    writer.close()


async def test_a_direct_body_write_falls_back_to_send_while_writing_is_paused(harness: Harness) -> None:
    _, writer = await harness.connect(tiny_window=True)
    exchange = await harness.exchanges.get()
    await asyncio.sleep(0.05)
    cycle = direct_cycle(exchange.send)
    pending: PendingWrite | None = None
    for _ in range(2_000):
        pending = write_body(exchange.send, cycle, body(CHUNK), http_chunk(CHUNK))
        if pending is not None:
            break
    assert pending is not None  # not written past the server's flow control
    pending.close()
    exchange.done.set()
    writer.close()


async def test_ending_after_the_response_completed_is_refused_by_the_server(harness: Harness) -> None:
    """finish() must not be the second end of a response: the server raises, it does not ignore it."""
    _, writer = await harness.connect()
    exchange = await harness.exchanges.get()
    assert send_now(exchange.send, END) is None
    with pytest.raises(RuntimeError):
        send_now(exchange.send, END)
    exchange.done.set()  # finish() then drops the connection instead, quietly
    writer.close()


async def test_the_draining_server_calls_back_before_closing_connections(http: str) -> None:
    harness = Harness(http, draining=True)
    task = asyncio.create_task(harness.server.serve())
    try:
        while not harness.server.started:
            await asyncio.sleep(0.01)
        reader, writer = await harness.connect()
        exchange = await harness.exchanges.get()
        harness.server.should_exit = True
        await asyncio.wait_for(harness.drained.wait(), 5)
        # Called while the connection is still open: a goodbye can still be written.
        assert send_now(exchange.send, body(b": goodbye\n\n")) is None
        await read_until(reader, b": goodbye\n\n")
        exchange.done.set()
        await asyncio.wait_for(task, 10)
        writer.close()
    finally:
        harness.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
