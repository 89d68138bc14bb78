"""SSE frames, encoded once per event by sse-starlette's encoder and shared by every client."""

from __future__ import annotations

from dataclasses import dataclass

from sse_starlette.event import ServerSentEvent

from scoreboard.redis_store.events import stream_id_key


@dataclass(frozen=True, slots=True)
class Frame:
    id_key: tuple[int, int]
    payload: bytes
    committed_us: int
    is_top: bool


def encode(event_type: str, data: bytes, entry_id: str | None) -> bytes:
    encoded: bytes = ServerSentEvent(data=data.decode(), event=event_type, id=entry_id).encode()
    return encoded


def frame(
    event_type: str, data: bytes, entry_id: str | None, *, committed_us: int = 0, is_top: bool = False
) -> Frame:
    id_key = stream_id_key(entry_id) if entry_id else (0, 0)
    return Frame(id_key, encode(event_type, data, entry_id), committed_us, is_top)


# The heartbeat: an SSE comment line, shared by every connection.
PING: bytes = ServerSentEvent(comment="ping").encode()


def retry_frame(retry_ms: int, reason: str) -> bytes:
    encoded: bytes = ServerSentEvent(comment=reason, retry=retry_ms).encode()
    return encoded
