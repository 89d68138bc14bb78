"""The boards' Redis as a Redis Cluster (ARCHITECTURE.md: Redis roles).

redis-py's RedisCluster follows MOVED and ASK, refreshes its slot map after a failover and
retries what a dead primary refused. Two things are added here, so that a Cluster fails the way
a single Redis does: error replies are typed by what they mean (redis_store/errors.py), and a
Cluster that cannot be reached at all (no node answers, or its slots are not all served yet)
raises a ConnectionError, which the code already treats as "Redis unavailable".
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import ClusterParser, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from scoreboard.redis_store.errors import typed_reply


class ClusterUnreachableError(RedisConnectionError):
    """No node of the Cluster answered, or the slots it serves do not cover them all."""


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
