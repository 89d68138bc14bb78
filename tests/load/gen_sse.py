"""SSE listeners on raw asyncio sockets (thousands per process; httpx would cost far more CPU).

Each client sends one GET, checks the 200, undoes the chunked transfer encoding, splits the
stream into SSE events and hands each to the scenario's bookkeeping:
* every leaderboard_updated: its "version" must only grow (a Top 10 is state: older ones may be
  conflated, never sent after a newer one); each client keeps the last version it saw;
* fanout: leaderboard_updated events carrying a "sentAt" (wall clock at XADD) give the
  Redis-to-socket latency; each client counts them (the last one sent must arrive);
* e2e: user_score_updated events of the client's own user are kept as (user, score, receipt
  time), and with `record_tops` every Top 10 as (version, receipt time), for its lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import cast

import orjson

from tests.load.procs import CONNECTED, DONE, ERRORS, EXTRA, Control
from tests.load.stats import Histogram

# The fields read from each event, straight off the wire (C regex speed: with the clients pinned to
# one core, 40,000 events/s must cost them well under a core, or they would measure themselves).
EVENT = re.compile(rb"event: ([A-Za-z_]+)\r?\ndata: ([^\r\n]*)")
SENT_AT = re.compile(rb'"sentAt":([0-9.eE+-]+)')
VERSION = re.compile(rb'"version":(-?[0-9]+)')


@dataclass
class SseConfig:
    host: str
    port: int
    paths: list[str]  # one per client
    own_users: list[str | None] = field(default_factory=list)  # e2e: the user each client follows
    record_tops: bool = False  # e2e: keep (version, receipt time) of every Top 10
    connect_concurrency: int = 64
    connect_timeout_s: float = 60.0


@dataclass
class SseResult:
    connected: int = 0
    failed: int = 0
    dropped: int = 0  # connections the server closed while we listened
    latency: Histogram = field(default_factory=Histogram)  # fanout: receipt - sentAt
    synthetic_counts: dict[int, int] = field(default_factory=dict)  # events received -> clients
    last_versions: dict[int, int] = field(default_factory=dict)  # last version seen -> clients
    out_of_order: int = 0
    events: dict[str, int] = field(default_factory=dict)
    receipts: list[tuple[str, int, float]] = field(default_factory=list)  # e2e
    top_receipts: list[list[tuple[int, float]]] = field(default_factory=list)  # e2e: per client
    failures: dict[str, int] = field(default_factory=dict)


class SseClient(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        result: SseResult,
        control: Control,
        own_user: str | None,
        *,
        record_tops: bool = False,
    ) -> None:
        self.request = request
        self.tops: list[tuple[int, float]] | None = [] if record_tops else None
        self.result = result
        self.control = control
        self.own_user = own_user
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.raw = bytearray()
        self.in_body = False
        self.synthetic = 0
        self.last_version = -1
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(0)
        elif not self.closing:
            self.result.dropped += 1
            self.control.add(ERRORS)

    def data_received(self, data: bytes) -> None:
        self.raw += data
        if not self.in_body:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            status = int(bytes(self.raw[: self.raw.find(b"\r\n")]).split(b" ", 2)[1])
            del self.raw[: end + 4]
            self.in_body = True
            self.opened.set_result(status)
            if status != 200 and self.transport is not None:
                self.closing = True
                self.transport.close()
                return
        self._scan()

    def _scan(self) -> None:
        """Handle every complete event received so far; keep the incomplete rest.

        Both servers measured here write each SSE event whole within one HTTP chunk, so chunk
        headers only ever sit between events, never inside one: the event and data lines can be
        read without undoing the chunked encoding first.
        """
        raw = self.raw
        complete = max(raw.rfind(b"\n\r\n"), raw.rfind(b"\n\n"))
        if complete < 0:
            return
        for match in EVENT.finditer(raw, 0, complete + 1):
            self._handle(match[1], match[2])
        del raw[: complete + 1]

    def _handle(self, event_type: bytes, data: bytes) -> None:
        now = time.time()
        name = event_type.decode()
        self.result.events[name] = self.result.events.get(name, 0) + 1
        self.control.add(DONE)
        if event_type == b"leaderboard_updated":
            found = VERSION.search(data)
            version = int(found[1]) if found else 0
            if version <= self.last_version:
                self.result.out_of_order += 1
            self.last_version = version
            if self.tops is not None:
                self.tops.append((version, now))
            sent_at = SENT_AT.search(data)
            if sent_at is not None:
                self.result.latency.record(max(0.0, now - float(sent_at[1])))
                self.synthetic += 1
                self.control.add(EXTRA)
        elif event_type == b"user_score_updated" and self.own_user is not None:
            event = orjson.loads(data)
            if event.get("userId") == self.own_user:
                self.result.receipts.append((self.own_user, int(event["newScore"]), now))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


async def run(config: SseConfig, control: Control) -> SseResult:
    loop = asyncio.get_running_loop()
    result = SseResult()
    clients: list[SseClient] = []
    gate = asyncio.Semaphore(config.connect_concurrency)
    host = f"{config.host}:{config.port}"
    own_users = config.own_users or [None] * len(config.paths)

    async def connect(path: str, own_user: str | None) -> None:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n\r\n"
        ).encode()
        client = SseClient(request, result, control, own_user, record_tops=config.record_tops)
        async with gate:
            try:
                await loop.create_connection(lambda: client, config.host, config.port)
                status = await asyncio.wait_for(asyncio.shield(client.opened), config.connect_timeout_s)
            except (OSError, TimeoutError) as error:
                status, reason = 0, type(error).__name__
            else:
                reason = f"http-{status}"
        if status == 200:
            clients.append(client)
            result.connected += 1
            control.add(CONNECTED)
        else:
            client.close()
            result.failed += 1
            result.failures[reason] = result.failures.get(reason, 0) + 1
            control.add(ERRORS)

    await asyncio.gather(*(connect(p, u) for p, u in zip(config.paths, own_users, strict=True)))
    await control.wait_stop()
    for client in clients:
        result.synthetic_counts[client.synthetic] = result.synthetic_counts.get(client.synthetic, 0) + 1
        result.last_versions[client.last_version] = result.last_versions.get(client.last_version, 0) + 1
        if client.tops is not None:
            result.top_receipts.append(client.tops)
        client.close()
    with contextlib.suppress(Exception):
        await asyncio.sleep(0.1)
    return result
