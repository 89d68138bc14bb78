"""Every Lua script of the Redis protocol: one `.lua` file each, its KEYS/ARGV contract on top.

Adding a script is one file and one line: `name.lua` in this folder, `self.name = load("name")`
below. A script that touches several keys takes keys of one hash tag (redis_store/keys.py), so it
stays valid on Redis Cluster. The files ship in the wheel (package-data in pyproject.toml).

Redis runs each script alone, with nothing to import, so Lua shared by several scripts lives in a
library file (`_name.lua`) that a script includes with a line `-- include: _name`: the text sent
to Redis is the script with that line replaced by the library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

Arg = str | int | float | bytes


INCLUDE = "-- include: "


@cache
def source(name: str) -> str:
    """The text of `name.lua` as Redis runs it: its `-- include: _library` lines replaced."""
    lines = files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(
        source(line.removeprefix(INCLUDE).strip()) if line.startswith(INCLUDE) else line for line in lines
    )


class Script:
    """One script on one client, run by bare EVALSHA: no SCRIPT EXISTS or SCRIPT LOAD round trip
    per call, since a script is loaded once per server (per node on a Cluster, whose script
    caches are each node's own). A call that meets NOSCRIPT loads it and runs it again (in a
    pipeline: Scripts.execute does)."""

    def __init__(self, redis: Redis, name: str) -> None:
        self._redis = redis
        self.source = source(name)
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, keys: Sequence[Arg] = (), args: Sequence[Arg] = (), client: Pipeline | None = None
    ) -> Any:
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        if client is not None:
            # Queued as a plain command: redis-py's cluster pipeline refuses its evalsha() (and
            # awaiting a cluster pipeline would empty it).
            client.execute_command(*command)
            return None
        try:
            return await self._redis.execute_command(*command)  # type: ignore[no-untyped-call]
        except NoScriptError:  # a new server, a promoted replica, a SCRIPT FLUSH
            await self._redis.script_load(self.source)
            return await self._redis.execute_command(*command)  # type: ignore[no-untyped-call]


class Scripts:
    """The scripts on one client. Calling one sends EVALSHA (SCRIPT LOAD and EVALSHA again after
    a NOSCRIPT), with `client=` a pipeline to send it in that pipeline's round trip (run that
    pipeline with `execute`)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._all: list[Script] = []

        def load(name: str) -> Script:
            script = Script(redis, name)
            self._all.append(script)
            return script

        # leaderboard.py
        self.apply = load("apply")
        self.mark_emitted = load("mark_emitted")
        self.score_and_rank = load("score_and_rank")
        self.claim_top_change = load("claim_top_change")
        self.begin_rebuild = load("begin_rebuild")
        self.finish_rebuild = load("finish_rebuild")
        self.moderate = load("moderate")
        # rate_limit.py, ticket_stagger.py, job_queue.py, locks.py
        self.sliding_windows = load("sliding_windows")
        self.reserve_ticket_slot = load("reserve_ticket_slot")
        self.enqueue_job = load("enqueue_job")
        self.release_lock = load("release_lock")
        # flags_mirror.py
        self.publish_flags = load("publish_flags")

    async def execute(self, pipe: Pipeline) -> list[Any]:
        """Run a pipeline that calls these scripts, raising its first error reply. A server
        restarted empty, or a replica that a failover promoted, answers NOSCRIPT to a call and
        runs nothing of it: then every script is loaded (on every primary of a Cluster) and those
        calls alone are sent again, so a call runs once whatever the server knew."""
        commands = _queued(pipe)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            await self.load_all()
            async with self._redis.pipeline(transaction=False) as again:
                for index in missing:
                    again.execute_command(*commands[index])
                for index, result in zip(missing, await again.execute(raise_on_error=False), strict=True):
                    results[index] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def load_all(self) -> None:
        for script in self._all:  # SCRIPT LOAD goes to every primary of a Cluster
            await self._redis.script_load(script.source)


def _queued(pipe: Pipeline) -> list[tuple[Any, ...]]:
    """The commands a pipeline holds, in order (redis-py keeps them apart on a Cluster's)."""
    stack = getattr(pipe, "command_stack", None)
    if stack is not None:  # redis.asyncio Pipeline: (args, options) pairs
        return [args for args, _ in stack]
    return [command.args for command in pipe._command_stack]  # type: ignore[attr-defined]  # ClusterPipeline
