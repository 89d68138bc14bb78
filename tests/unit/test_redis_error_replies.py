"""Error replies are typed by what they mean (the replies are Redis 6.2's and 7's own wording)."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

from scoreboard.redis_store.cluster import (
    ClusterErrorReplies,
    ClusterUnreachableError,
    ConnectionTornError,
    _torn_connections_as_connection_errors,
)
from scoreboard.redis_store.errors import UNAVAILABLE_ERRORS, ErrorReplies

NOT_NOW = [
    "OOM command not allowed when used memory > 'maxmemory'.",
    "READONLY You can't write against a read only replica.",
    "NOSCRIPT No matching script. Please use EVAL.",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
    "NOREPLICAS Not enough good replicas to write.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "CLUSTERDOWN The cluster is down",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "LOADING Redis is loading the dataset in memory",
    # Redis 6: an error inside a script, wrapped
    "ERR Error running script (call to f_e57d221e): @user_script:12: @user_script: 12: "
    "-OOM command not allowed when used memory > 'maxmemory'. ",
    "ERR Error running script (call to f_e57d221e): @user_script:3: @user_script: 3: "
    "-READONLY You can't write against a read only replica. ",
    # Redis 7: the inner code first
    "OOM command not allowed when used memory > 'maxmemory'. script: e57d221e, on @user_script:12.",
]

BUGS = [
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ",
    "ERR wrong number of arguments for 'zadd' command",
    "ERR Error running script (call to f_e57d221e): @user_script:1: user_script:1: "
    "attempt to compare nil with number ",
    "ERR Error running script (call to f_e57d221e): @user_script:1: @user_script: 1: "
    "-WRONGTYPE Operation against a key holding the wrong kind of value ",
    "NOPERM this user has no permissions to run the 'eval' command",
]


@pytest.mark.parametrize("reply", NOT_NOW)
def test_a_reply_that_says_not_now_is_unavailability(reply: str) -> None:
    assert isinstance(ErrorReplies.parse_error(reply), UNAVAILABLE_ERRORS)


@pytest.mark.parametrize("reply", BUGS)
def test_a_reply_that_says_our_command_is_wrong_stays_an_error(reply: str) -> None:
    error = ErrorReplies.parse_error(reply)
    assert isinstance(error, ResponseError)
    assert not isinstance(error, UNAVAILABLE_ERRORS)


# What a Cluster adds during a failover or a resharding, read by the cluster client's parser.
CLUSTER_NOT_NOW = [
    *NOT_NOW,
    "MOVED 3999 127.0.0.1:6381",
    "ASK 3999 127.0.0.1:6381",
]


@pytest.mark.parametrize("reply", CLUSTER_NOT_NOW)
def test_a_cluster_reply_that_says_not_now_is_unavailability(reply: str) -> None:
    assert isinstance(ClusterErrorReplies.parse_error(reply), UNAVAILABLE_ERRORS)


@pytest.mark.parametrize("reply", [*BUGS, "CROSSSLOT Keys in request don't hash to the same slot"])
def test_a_cluster_reply_that_says_our_command_is_wrong_stays_an_error(reply: str) -> None:
    error = ClusterErrorReplies.parse_error(reply)
    assert isinstance(error, ResponseError)
    assert not isinstance(error, UNAVAILABLE_ERRORS)


def test_a_cluster_that_cannot_be_reached_is_unavailability() -> None:
    assert issubclass(ClusterUnreachableError, UNAVAILABLE_ERRORS)


async def test_a_connection_closed_under_a_command_is_a_connection_error() -> None:
    """What a Cluster client meets when a failover drops the connection a command is writing to
    (redis_store/cluster.py): the transport's own error, raised inside redis-py's connection."""
    never_connected = Connection()
    with pytest.raises(ConnectionTornError), _torn_connections_as_connection_errors():
        await never_connected._send_packed_command([b"PING\r\n"])
    assert issubclass(ConnectionTornError, UNAVAILABLE_ERRORS)


def test_an_error_of_our_own_is_not_taken_for_a_closed_connection() -> None:
    with pytest.raises(AttributeError), _torn_connections_as_connection_errors():
        None.missing  # type: ignore[attr-defined]  # noqa: B018
