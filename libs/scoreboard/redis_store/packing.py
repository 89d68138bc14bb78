"""Commands packed by hiredis (C) rather than by redis-py's asyncio connection, which packs
every argument in Python.

redis-py's synchronous client already packs with hiredis (its `HiredisRespSerializer`, reused
here); its asyncio connection does not (redis-py 5.x), and packing was the largest single cost
of the API's Redis calls (docs/PERFORMANCE.md: Write path and several processes). The bytes
sent are the same (tests/unit/test_packing.py).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.connection import HiredisRespSerializer
from redis.exceptions import DataError

_HIREDIS = HiredisRespSerializer()  # the synchronous client's packer: stateless


class HiredisPacking:
    """Mixed in ahead of a redis-py asyncio connection class."""

    def pack_command(self, *args: Any) -> list[bytes]:
        try:
            packed: list[bytes] = _HIREDIS.pack(*args)
        except DataError:  # a value hiredis does not take: redis-py's own packing (or DataError)
            packed = super().pack_command(*args)  # type: ignore[misc]
        return packed


def packed_by_hiredis(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    return type(f"Hiredis{connection_class.__name__}", (HiredisPacking, connection_class), {})
