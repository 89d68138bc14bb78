"""Every Lua script of the Redis protocol: one `.lua` file each, its KEYS/ARGV contract on top.

Adding a script is one file and one line: `name.lua` in this folder, `self.name = load("name")`
below. A script that touches several keys takes keys of one hash tag (redis_store/keys.py), so it
stays valid on Redis Cluster. The files ship in the wheel (package-data in pyproject.toml).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


@cache
def source(name: str) -> str:
    return files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The scripts registered on one client. Calling one sends EVALSHA (EVAL once after a
    NOSCRIPT), with `client=` a pipeline to send it in that pipeline's round trip."""

    def __init__(self, redis: Redis) -> None:
        def load(name: str) -> AsyncScript:
            return redis.register_script(source(name))

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
