"""What an error reply from Redis means: "not now" (unavailable) or a bug in our own command.

redis-py types only some replies (OOM, READONLY, NOSCRIPT; on a Cluster also MOVED, ASK,
CLUSTERDOWN, TRYAGAIN), leaves the others (BUSY, MISCONF, ...) as a plain ResponseError, and
Redis 6 wraps the error of a command run inside a script ("Error running script (call to
f_...): @user_script:12: ... -OOM command not allowed ...").
The connections' parser (see ErrorReplies) gives each of those its own type as the reply is read,
so every `except UNAVAILABLE_ERRORS` in the code, pipelines included, treats a full or read-only
Redis exactly like an unreachable one; a WRONGTYPE or a failing script stays a ResponseError.
"""

from __future__ import annotations

import re

from redis.asyncio.connection import DefaultParser
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    InvalidResponse,
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ServerBusyError(ResponseError):
    """The server is up but refuses work for now: running a long script (BUSY), unable to persist
    (MISCONF), short of the replicas it must write to (NOREPLICAS)."""


# Error codes that mean "this server cannot serve now, retry later or elsewhere". NOSCRIPT is one:
# a Script call loads the script and retries by itself, but a pipeline sent right after a failover
# (or a SCRIPT FLUSH) can still meet it, and the next pipeline loads the script again.
NOT_NOW: dict[str, type[ResponseError]] = {
    "OOM": OutOfMemoryError,
    "READONLY": ReadOnlyError,
    "NOSCRIPT": NoScriptError,
    "CLUSTERDOWN": ClusterDownError,
    "MASTERDOWN": MasterDownError,
    "TRYAGAIN": TryAgainError,
    "BUSY": ServerBusyError,
    "MISCONF": ServerBusyError,
    "NOREPLICAS": ServerBusyError,
}

# Redis 6's wrapping of an error raised by redis.call() inside a script: the inner reply follows
# the script's location as "-CODE message". Redis 7 replies with the inner code first instead.
_INSIDE_SCRIPT = re.compile(r"^Error running script \(call to [^)]*\): .*?-([A-Z]+) ")

# What "Redis cannot serve right now" looks like to redis-py: unreachable, still loading its data
# after a restart (BusyLoadingError is a ConnectionError), something that does not speak Redis at
# that address, or one of the error replies above. On a Redis Cluster (redis_store/cluster.py) a
# failover adds its own: redirections that kept moving past the client's retries (MovedError and
# AskError, ClusterError "TTL exhausted") and a slot no node serves for now.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    InvalidResponse,
    OSError,
    TimeoutError,
    ClusterError,
    AskError,
    SlotNotCoveredError,
    *set(NOT_NOW.values()),
)


def typed_reply(error: BaseException) -> BaseException:
    """The error reply with the type its code says, when redis-py left it a plain ResponseError."""
    if type(error) is not ResponseError:
        return error
    message = str(error)
    inner = _INSIDE_SCRIPT.match(message)
    code = inner.group(1) if inner else message.split(" ", 1)[0]
    typed = NOT_NOW.get(code)
    return typed(message) if typed is not None else error


class ErrorReplies(DefaultParser):  # type: ignore[misc,valid-type]  # a class chosen at import
    """redis-py's own parser (hiredis when installed), with error replies typed by typed_reply."""

    @classmethod
    def parse_error(cls, response: str) -> BaseException:
        return typed_reply(super().parse_error(response))
