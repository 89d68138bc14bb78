"""hiredis packs a command into the same bytes as redis-py's asyncio connection would."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from scoreboard.redis_store.packing import packed_by_hiredis

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "key", "value"),
    ("SCRIPT EXISTS", "a" * 40, "b" * 40),
    (b"SCRIPT LOAD", "return 1"),
    ("EVALSHA", "f" * 40, 2, "k1", "k2", -3, 0.1, 1e20, 12345678901234567890, "é€😀", b"\x00\xff\r\n"),
    ("ZADD", "board", 1.5, "member"),
    ("SET", "big", "x" * 20_000),  # beyond redis-py's buffer cutoff: it sends chunks, we one buffer
    ("SET", "view", memoryview(b"bytes")),  # hiredis refuses it: redis-py's own packing sends it
]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    ours = packed_by_hiredis(Connection)()
    theirs = Connection()
    assert b"".join(ours.pack_command(*command)) == b"".join(
        bytes(part) for part in theirs.pack_command(*command)
    )


def test_a_value_redis_cannot_take_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError):
        packed_by_hiredis(Connection)().pack_command("SET", "key", True)
