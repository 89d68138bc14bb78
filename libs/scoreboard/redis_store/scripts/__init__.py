"""Every Lua script of the Redis protocol: one `.lua` file each, its KEYS/ARGV contract on top.

Adding a script is one file and one line: `name.lua` in this folder, `self.name = load("name")`
below. A script that touches several keys takes keys of one hash tag (redis_store/keys.py), so it
stays valid on Redis Cluster. The files ship in the wheel (package-data in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

_SOURCES: dict[str, str] = {}  # sha1 -> script text: what `execute` sends again after a NOSCRIPT


@cache
def source(name: str) -> str:
    return files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


class Script(AsyncScript):
    """In a pipeline, a bare EVALSHA: redis-py's own scripts make every pipeline holding one ask
    SCRIPT EXISTS first, one more round trip each time. Such a pipeline runs through `execute`."""

    def __init__(self, redis: Redis, text: str) -> None:
        super().__init__(redis, text)
        _SOURCES[self.sha] = text

    async def __call__(
        self, keys: Sequence[Any] | None = None, args: Iterable[Any] | None = None, client: Any = None
    ) -> Any:
        if isinstance(client, Pipeline):
            keys = keys or []
            return client.evalsha(self.sha, len(keys), *keys, *(args or []))
        return await super().__call__(keys, args, client)


async def execute(pipe: Pipeline) -> list[Any]:
    """`pipe.execute()` for a pipeline holding scripts: a script the server does not know (a
    restarted Redis) is sent again as EVAL, which also loads it. A NOSCRIPT reply means that
    command did not run, so sending it again applies it once; the others ran in order."""
    sent: list[tuple[Any, ...]] = [command for command, _ in pipe.command_stack]
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    for index, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            _, sha, key_count, *keys_and_args = sent[index]
            again = Redis(connection_pool=pipe.connection_pool)
            replies[index] = await again.eval(_SOURCES[sha], int(key_count), *keys_and_args)  # type: ignore[misc]  # sync and async typed as one
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


class Scripts:
    """The scripts registered on one client. Calling one sends EVALSHA (EVAL once after a
    NOSCRIPT), with `client=` a pipeline to send it in that pipeline's round trip (then run the
    pipeline with `execute`)."""

    def __init__(self, redis: Redis) -> None:
        def load(name: str) -> Script:
            return Script(redis, source(name))

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
