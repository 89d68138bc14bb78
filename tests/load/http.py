"""A lean HTTP/1.1 keep-alive client over asyncio streams, for loopback load generation.

httpx costs several times the CPU of the servers' own request handling; on a 2-core machine
that CPU would be taken from the service being measured. This client does only what the
harness needs: one request at a time per connection, Content-Length or chunked bodies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class HttpError(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_line = f"Host: {host}:{port}\r\n".encode()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        try:
            return await self._exchange(method, path, headers or {}, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            self.close()
            raise HttpError(f"{type(error).__name__}: {error}") from error

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        reader, writer = await self._connect()
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host_line]
        head += [f"{name}: {value}\r\n".encode() for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        writer.write(b"".join(head) + body)
        status, reply_headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
        if status in (204, 304) or method == "HEAD":
            payload = b""
        elif b"content-length" in reply_headers:
            payload = await reader.readexactly(int(reply_headers[b"content-length"]))
        elif reply_headers.get(b"transfer-encoding") == b"chunked":
            payload = await _read_chunked(reader)
        else:
            raise ValueError("response without a length")
        if reply_headers.get(b"connection") == b"close":
            self.close()
        return Reply(status, reply_headers, payload)


def parse_head(raw: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = raw.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
