"""The boards' Redis as a Redis Cluster (ARCHITECTURE.md: Redis roles).

redis-py's RedisCluster follows MOVED and ASK, refreshes its slot map after a failover and
retries what a dead primary refused. Three things are added here, so that a Cluster fails the
way a single Redis does, as a ConnectionError or a typed error reply, which the code already
treats as "Redis unavailable" (redis_store/errors.py):
* error replies are typed by what they mean;
* a Cluster that cannot be reached at all (no node answers, or its slots are not all served
  yet) raises ClusterUnreachableError;
* a command caught in the client's own topology change after a failover (a connection closed
  under it, the default node gone: an AttributeError, TypeError or RuntimeError raised inside
  redis-py or the transport under it, seen in tests/faults when a primary is killed under load;
  redis/redis-py#4287, #3835) raises ConnectionTornError.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from typing import Any

from redis.asyncio.cluster import ClusterParser, ClusterPipeline, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from scoreboard.redis_store.errors import typed_reply


class ClusterUnreachableError(RedisConnectionError):
    """No node of the Cluster answered, or the slots it serves do not cover them all."""


class ConnectionTornError(RedisConnectionError):
    """A command was caught in the client's topology change (see the module's docstring)."""


class ClusterErrorReplies(ClusterParser):
    """redis-py's cluster parser (MOVED, ASK, CLUSTERDOWN, ...), with the other replies typed."""

    @classmethod
    def parse_error(cls, response: str) -> BaseException:
        return typed_reply(super().parse_error(response))


class StoreCluster(RedisCluster):
    """A RedisCluster whose failures read as a single Redis's do (see the module's docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # RedisCluster picks its parser itself; every node it discovers copies connection_kwargs.
        self.connection_kwargs["parser_class"] = ClusterErrorReplies
        for node in self.get_nodes():
            node.connection_kwargs["parser_class"] = ClusterErrorReplies

    async def initialize(self) -> StoreCluster:
        try:
            await super().initialize()
        except RedisClusterException as error:  # "cannot be connected", "slots not covered"
            raise ClusterUnreachableError(str(error)) from error
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _torn_connections_as_connection_errors():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> ClusterPipeline:
        if transaction or shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused by redis-py, as it says why
        return StorePipeline(self)  # type: ignore[abstract]  # redis-py declares what it never uses here


class StorePipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        with _torn_connections_as_connection_errors():
            return await super().execute(raise_on_error, allow_redirections)


@contextlib.contextmanager
def _torn_connections_as_connection_errors() -> Iterator[None]:
    try:
        yield
    except (AttributeError, TypeError, RuntimeError) as error:
        if not _raised_in_a_connection(error):
            raise  # a bug of ours, not a closed connection
        raise ConnectionTornError(f"connection closed under a command: {error!r}") from error


def _raised_in_a_connection(error: BaseException) -> bool:
    """Raised by redis-py's asyncio client or the transport under it (asyncio, uvloop)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = frames[-1].filename.replace("\\", "/") if frames else ""
    return "asyncio/" in where or "uvloop/" in where
