"""The capped event stream `scores.updated`: append (worker) and read (gateway).

Each entry carries the SSE payload already serialised (`data`), so the gateway encodes nothing
per client, plus routing fields that never reach the client: the user it concerns, whether that
user is public, the commit time (for publish-to-deliver latency) and the trace context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from scoreboard.redis_store.keys import EVENT_STREAM


@dataclass(frozen=True, slots=True)
class StreamEvent:
    id: str
    type: str
    board_id: str
    window_id: str
    data: bytes
    user_id: str | None
    public: bool
    committed_us: int
    traceparent: str | None


def _decode(entry_id: bytes, fields: dict[bytes, bytes]) -> StreamEvent:
    user = fields.get(b"user")
    trace = fields.get(b"tp")
    return StreamEvent(
        id=entry_id.decode(),
        type=fields.get(b"type", b"").decode(),
        board_id=fields.get(b"board", b"").decode(),
        window_id=fields.get(b"window", b"all").decode(),  # entries of the previous release: all-time
        data=fields.get(b"data", b"{}"),
        user_id=user.decode() if user else None,
        public=fields.get(b"pub", b"1") == b"1",
        committed_us=int(fields.get(b"ts", b"0")),
        traceparent=trace.decode() if trace else None,
    )


async def append(
    redis: Redis,
    payload: dict[str, Any],
    *,
    maxlen: int,
    user_id: str | None = None,
    public: bool = True,
    committed_us: int = 0,
    traceparent: str | None = None,
) -> str:
    fields = _fields(payload, user_id, public, committed_us, traceparent)
    entry_id = await redis.xadd(EVENT_STREAM, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def append_many(redis: Redis, entries: list[dict[str, Any]], *, maxlen: int) -> None:
    """Append several entries in one round trip; each dict holds `append`'s keyword arguments
    and the payload (`payload`). An error reply for any of them raises."""
    async with redis.pipeline(transaction=False) as pipe:
        for entry in entries:
            fields = _fields(
                entry["payload"],
                entry.get("user_id"),
                entry.get("public", True),
                entry.get("committed_us", 0),
                entry.get("traceparent"),
            )
            pipe.xadd(EVENT_STREAM, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()


def _fields(
    payload: dict[str, Any], user_id: str | None, public: bool, committed_us: int, traceparent: str | None
) -> dict[str, bytes | str | int]:
    fields: dict[str, bytes | str | int] = {
        "type": payload["type"],
        "board": payload["board"],
        "window": payload["window"],
        "data": orjson.dumps(payload),
        "pub": "1" if public else "0",
        "ts": committed_us,
    }
    if user_id:
        fields["user"] = user_id
    if traceparent:
        fields["tp"] = traceparent
    return fields


async def read_after(redis: Redis, last_id: str, *, block_ms: int, count: int = 500) -> list[StreamEvent]:
    """Block until entries after last_id arrive (or the timeout passes)."""
    reply = await redis.xread({EVENT_STREAM: last_id}, block=block_ms, count=count)
    if not reply:
        return []
    _, entries = reply[0]
    return [_decode(entry_id, fields) for entry_id, fields in entries]


async def range_after(redis: Redis, last_id: str, until_id: str, *, count: int) -> list[StreamEvent]:
    """Entries in (last_id, until_id], at most count of them."""
    entries = await redis.xrange(EVENT_STREAM, min=f"({last_id}", max=until_id, count=count)
    return [_decode(entry_id, fields) for entry_id, fields in entries]


async def first_and_last_ids(redis: Redis) -> tuple[str | None, str | None]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xrange(EVENT_STREAM, count=1)
        pipe.xrevrange(EVENT_STREAM, count=1)
        first, last = await pipe.execute()
    first_id = first[0][0].decode() if first else None
    last_id = last[0][0].decode() if last else None
    return first_id, last_id


def stream_id_key(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
