"""SSE frames, encoded once per event by sse-starlette's encoder and shared by every client.

Each frame also carries its ASGI body message and its HTTP chunk, built once: the same dict goes
to every connection's `send` (the server only reads it), the same bytes to every transport that
takes them directly (services/gateway/inline_send.py), so a delivery allocates nothing of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sse_starlette.event import ServerSentEvent

from scoreboard.redis_store.events import stream_id_key

# Which Top 10 is newer: a later window's, then a higher version within a window.
TopOrder = tuple[int, int]  # (window index, version)
NEVER: TopOrder = (-(2**63), -1)


def body_message(payload: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": payload, "more_body": True}


def http_chunk(payload: bytes) -> bytes:
    """The payload as one chunk of a chunked HTTP/1.1 body, as the server would frame it."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


@dataclass(frozen=True, slots=True)
class Frame:
    id_key: tuple[int, int]
    payload: bytes
    data: bytes = field(default=b"", compare=False, repr=False)  # the event's JSON, as on the stream
    message: dict[str, Any] = field(init=False, compare=False, repr=False)
    chunk: bytes = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", body_message(self.payload))
        object.__setattr__(self, "chunk", http_chunk(self.payload))


def encode(event_type: str, data: bytes, entry_id: str | None) -> bytes:
    encoded: bytes = ServerSentEvent(data=data.decode(), event=event_type, id=entry_id).encode()
    return encoded


def frame(event_type: str, data: bytes, entry_id: str | None) -> Frame:
    id_key = stream_id_key(entry_id) if entry_id else (0, 0)
    return Frame(id_key, encode(event_type, data, entry_id), data)


# The heartbeat: an SSE comment line, shared by every connection.
PING: bytes = ServerSentEvent(comment="ping").encode()
PING_MESSAGE: dict[str, Any] = body_message(PING)
PING_CHUNK: bytes = http_chunk(PING)


def retry_frame(retry_ms: int, reason: str) -> bytes:
    encoded: bytes = ServerSentEvent(comment=reason, retry=retry_ms).encode()
    return encoded
