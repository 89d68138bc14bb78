"""Driving the server's ASGI `send` by hand: write now if the socket takes it, else hand it over.

Writing one shared frame to 10,000 connections from one task is the gateway's hot path; awaiting
each `send` from each connection's own task would cost a task switch per frame and client. So
the reader calls `send` and steps the coroutine once itself. That relies on this contract of
uvicorn's HTTP/1.1 protocols (`h11` and `httptools`), checked against real uvicorn on both by
tests/integration/test_inline_send.py; pyproject.toml pins uvicorn to the tested minor version.

1. `send(body message)` writes to the transport before it first suspends, and it suspends only
   (before writing anything) while flow control has paused writing. One step therefore either
   finishes the write or leaves it untouched, waiting for the socket: a `PendingWrite`.
2. `send` neither keeps nor changes the message dict: one dict can go to every connection.
3. `send` is a bound method of the connection's request-response cycle, whose `transport` is the
   connection's asyncio transport. Aborting it makes the server run `connection_lost` on the
   next loop iteration, which marks the response disconnected: an application that returns
   then, with the response unfinished, is not an error (nothing is logged).
4. httptools only (what `scoreboard gateway` runs): once the headers of a chunked response are
   sent, `send` of a body message with `more_body` does exactly one thing, unless writing is
   paused (`flow.write_paused`), the client left (`disconnected`) or the response is complete:
   `transport.write(<hex length>\r\n<body>\r\n)`. So `write_body` writes those pre-framed
   bytes itself, skipping the coroutine and the per-call checks (a fifth of a delivery's CPU),
   and goes through `send` whenever one of those three holds, or on any other protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, cast

from starlette.types import Send
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as HttptoolsCycle

__all__ = [
    "END",
    "HttptoolsCycle",
    "PendingWrite",
    "SendCoroutine",
    "abort",
    "direct_cycle",
    "finish",
    "send_now",
    "write_body",
]

SendCoroutine = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
END: dict[str, Any] = {"type": "http.response.body", "body": b"", "more_body": False}


class PendingWrite:
    """A `send(...)` coroutine that suspended on its first step: awaiting this finishes it.

    The coroutine already yielded `blocker` (the future it waits on) to us rather than to a
    task, so the awaiting task first waits on that future, then keeps driving the coroutine.
    """

    __slots__ = ("blocker", "coro")

    def __init__(self, coro: Coroutine[Any, Any, None], blocker: Any) -> None:
        self.coro = coro
        self.blocker = blocker

    def __await__(self) -> Generator[Any, None, None]:
        coro, blocker = self.coro, self.blocker
        while True:
            try:
                yield blocker
            except BaseException as error:  # cancelled, or the future failed: the coroutine decides
                try:
                    blocker = coro.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    blocker = coro.send(None)
                except StopIteration:
                    return

    def close(self) -> None:
        self.coro.close()


def send_now(send: SendCoroutine, message: dict[str, Any]) -> PendingWrite | None:
    """Write `message` now if the socket takes it (None), else the write left waiting for it.

    Raises what `send` raised (the connection is unusable then).
    """
    coro = send(message)
    try:
        blocker = coro.send(None)
    except StopIteration:
        return None  # written: the common case
    return PendingWrite(coro, blocker)


def direct_cycle(send: SendCoroutine) -> HttptoolsCycle | None:
    """The httptools cycle behind `send` once its chunked body has begun (point 4), else None."""
    cycle = getattr(send, "__self__", None)
    if type(cycle) is HttptoolsCycle and cycle.response_started and cycle.chunked_encoding is True:
        return cycle
    return None


def write_body(
    send: SendCoroutine, cycle: HttptoolsCycle | None, message: dict[str, Any], chunk: bytes
) -> PendingWrite | None:
    """`send_now(send, message)`, writing `chunk` (the message's body, framed) straight to the
    transport when the server's `send` would do nothing else (contract point 4)."""
    if cycle is not None and not (cycle.flow.write_paused or cycle.disconnected or cycle.response_complete):
        cycle.transport.write(chunk)
        return None
    return send_now(send, message)


def abort(send: Send) -> None:
    """Drop the connection at once, unsent data and all (a client that stopped reading)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    drop = getattr(transport, "abort", None)  # duck-typed: uvloop's transports are not asyncio's classes
    if callable(drop):
        drop()


async def finish(send: Send) -> None:
    """End the response: the last chunk if the socket takes it now, else drop the connection.

    Never waits for the client: a client that is not reading any more is not waited for twice.
    """
    try:
        pending = send_now(cast(SendCoroutine, send), END)
    except Exception:  # noqa: S110 - the connection is unusable, whatever the error: drop it
        pass
    else:
        if pending is None:
            return
        pending.close()
    abort(send)
    # One loop iteration: the server runs connection_lost and knows the client is gone before
    # this application returns (contract point 3).
    await asyncio.sleep(0)
