"""The Redis leaderboard: absolute, order-safe writes and ranked reads.

Writes never use ZINCRBY: they copy a committed (score, reached_at) from PostgreSQL and apply it
only when it is newer than what Redis holds (scores only grow, so "newer" is "higher"). A retried
or reordered copy is therefore harmless, and two writers converge on the database's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from scoreboard.domain.boards import Board
from scoreboard.domain.models import OwnStanding, RankedEntry, ScoreState
from scoreboard.domain.ranking import decode_member, encode_member, shared_ranks, unique_ranks
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.keys import ALL_TIME, PROFILES, BoardKeys
from scoreboard.redis_store.profiles import profile_value
from scoreboard.redis_store.scripts import Scripts

REBUILD_CHUNK = 1_000  # entries per bulk command: Redis serves other clients between commands
REBUILD_LOCK_TTL_MS = 60_000  # renewed with every page written


@dataclass(frozen=True, slots=True)
class TopChange:
    version: int
    rows: list[tuple[bytes, float]]


@dataclass(frozen=True, slots=True)
class TooSoon:
    wait_ms: int


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    applied: bool
    rank: int  # only meaningful when board_ready: a board being rebuilt has partial ranks
    needs_event: bool
    board_ready: bool
    shared_rank: int = 0  # 1 + the number of higher scores (boards with shared ranks)
    hidden: bool = False  # the user is out of the public ranking: ranks are where they would be

    def rank_on(self, shared: bool) -> int:
        return self.shared_rank if shared else self.rank


def _apply_outcome(reply: Sequence[int]) -> ApplyOutcome:
    applied, rank, needs_event, ready, shared, hidden = reply
    return ApplyOutcome(bool(applied), int(rank), bool(needs_event), bool(ready), int(shared), bool(hidden))


# A window's keys live this long after its end: for writes still in flight at the boundary.
WINDOW_KEYS_GRACE = timedelta(minutes=10)


def _ranking_and_held(
    users: Sequence[str], scores: Sequence[int], members: Sequence[str], hidden: Collection[str]
) -> tuple[list[object], list[object]]:
    """ZADD arguments of the shown entries, HSET arguments (user, score) of the hidden ones."""
    held_at = [index for index, user in enumerate(users) if user in hidden] if hidden else []
    if not held_at:
        ranking: list[object] = [None] * (2 * len(users))
        ranking[0::2] = scores
        ranking[1::2] = members
        return ranking, []
    held_set = set(held_at)
    ranking = [item for i in range(len(users)) if i not in held_set for item in (scores[i], members[i])]
    return ranking, [item for i in held_at for item in (users[i], scores[i])]


def _rebuild_keys(keys: BoardKeys) -> list[str]:
    return [
        keys.ranking,
        keys.members,
        keys.ready,
        keys.rebuild_ranking,
        keys.rebuild_members,
        keys.rebuild_lock,
        keys.versions,
        keys.hidden,
        keys.rebuild_versions,
        keys.rebuild_hidden,
    ]


class Leaderboard:
    """One process's handle on the Redis side of every board window."""

    def __init__(self, redis: Redis, boards: Mapping[str, Board] | None = None) -> None:
        self._redis = redis
        self._scripts = Scripts(redis)
        self._boards = boards or {}

    def expire_at_ms(self, board_id: str, window_id: str) -> int:
        """When a window's keys go (unix ms); 0 for an all-time board's."""
        board = self._boards.get(board_id)
        if window_id == ALL_TIME or board is None:
            return 0
        end = board.rule.parse(window_id).end
        return 0 if end is None else int((end + WINDOW_KEYS_GRACE).timestamp() * 1000)

    async def apply(self, states: Sequence[ScoreState]) -> list[ApplyOutcome]:
        """Apply committed states, each only if newer than what Redis holds (one script call
        per board window, in one round trip); outcomes in the order of `states`."""
        if not states:
            return []
        groups: dict[tuple[str, str], list[int]] = {}
        for index, state in enumerate(states):
            groups.setdefault((state.board_id, state.window_id), []).append(index)
        async with self._redis.pipeline(transaction=False) as pipe:
            for (board_id, window_id), indexes in groups.items():
                await self._queue_apply(pipe, board_id, window_id, [states[i] for i in indexes])
            replies = await self._scripts.execute(pipe)
        outcomes: list[ApplyOutcome | None] = [None] * len(states)
        for indexes, reply in zip(groups.values(), replies, strict=True):
            for index, raw in zip(indexes, reply, strict=True):
                outcomes[index] = _apply_outcome(raw)
        return [outcome for outcome in outcomes if outcome is not None]

    async def _queue_apply(
        self, pipe: Pipeline, board_id: str, window_id: str, states: Sequence[ScoreState]
    ) -> None:
        keys = BoardKeys(board_id, window_id)
        argv: list[str | int] = [self.expire_at_ms(board_id, window_id)]
        for state in states:
            member = encode_member(state.user_id, state.reached_at_us)
            argv += [str(state.user_id), state.score, member, state.version]
        await self._scripts.apply(keys=keys.script_keys, args=argv, client=pipe)

    async def write_through(
        self,
        states: Sequence[ScoreState],
        display_name: str,
        is_public: bool,
        *,
        also: Callable[[Pipeline], Awaitable[None]] | None = None,
    ) -> list[ApplyOutcome]:
        """Apply one increment's committed states (one per board that counted it) and cache its
        owner's profile, in one round trip; outcomes in the order of `states`.

        `also` adds more commands to the same pipeline (the API's job enqueue: one round trip
        for all); their replies are not read here.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in states:
                await self._queue_apply(pipe, state.board_id, state.window_id, [state])
            # Only when missing: a queued copy must not undo a later name or privacy change.
            pipe.hsetnx(PROFILES, str(states[0].user_id), profile_value(display_name, is_public))
            if also is not None:
                await also(pipe)
            replies = await self._scripts.execute(pipe)
        return [_apply_outcome(reply[0]) for reply in replies[: len(states)]]

    async def mark_emitted(self, *states: ScoreState) -> None:
        """Remember that these states' events are on the stream (one round trip)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in states:
                keys = BoardKeys(state.board_id, state.window_id)
                expire = self.expire_at_ms(state.board_id, state.window_id)
                args: list[str | int] = [str(state.user_id), state.score, expire]
                await self._scripts.mark_emitted(keys=[keys.emitted], args=args, client=pipe)
            await self._scripts.execute(pipe)

    async def save_profiles(self, profiles: dict[UUID, tuple[str, bool]]) -> None:
        if profiles:
            await self._redis.hset(  # type: ignore[misc]  # redis-py types sync and async as one
                PROFILES,
                mapping={str(user): profile_value(name, public) for user, (name, public) in profiles.items()},
            )

    async def lock_rebuild(self, board_id: str, window_id: str, lock_token: str) -> bool:
        """Take the board's rebuild lock (one rebuild at a time across workers); False when taken."""
        lock = BoardKeys(board_id, window_id).rebuild_lock
        return bool(await self._redis.set(lock, lock_token, nx=True, px=REBUILD_LOCK_TTL_MS))

    async def extend_rebuild_lock(self, board_id: str, window_id: str) -> None:
        await self._redis.pexpire(BoardKeys(board_id, window_id).rebuild_lock, REBUILD_LOCK_TTL_MS)

    async def unlock_rebuild(self, board_id: str, window_id: str, lock_token: str) -> None:
        """Release the rebuild lock if it is still ours (it may have expired and been taken)."""
        lock = BoardKeys(board_id, window_id).rebuild_lock
        await self._scripts.release_lock(keys=[lock], args=[lock_token])

    async def begin_rebuild(self, board_id: str, window_id: str, lock_token: str) -> bool:
        """Clear the rebuild keys (and the unread live ones) under the rebuild lock; False when
        the lock is not ours or the board turned out to be ready."""
        keys = BoardKeys(board_id, window_id)
        return bool(await self._scripts.begin_rebuild(keys=_rebuild_keys(keys), args=[lock_token]))

    async def load_rebuild_page(
        self,
        board_id: str,
        window_id: str,
        users: Sequence[str],
        scores: Sequence[int],
        members: Sequence[str],
        names: Sequence[str],
        public: Sequence[bool],
        versions: Sequence[int] = (),
        hidden: Collection[str] = frozenset(),
    ) -> None:
        """Add committed entries to the board being rebuilt (plain bulk ZADD/HSET into the
        rebuild keys, one round trip), and cache their owners' profiles. Each user appears at
        most once in a rebuild. The entries of `hidden` users go to the rebuild's hidden hash,
        not its ranking (see moderate)."""
        keys = BoardKeys(board_id, window_id)
        commands: list[tuple[object, ...]] = []
        for low in range(0, len(users), REBUILD_CHUNK):
            high = low + REBUILD_CHUNK
            chunk_users, chunk_members = users[low:high], members[low:high]
            by_user: list[object] = [None] * (2 * len(chunk_users))
            by_user[0::2] = chunk_users
            by_user[1::2] = chunk_members
            profiles: list[object] = [None] * len(by_user)
            profiles[0::2] = chunk_users
            profiles[1::2] = [
                orjson.dumps([n, p]) for n, p in zip(names[low:high], public[low:high], strict=True)
            ]
            ranking, held = _ranking_and_held(chunk_users, scores[low:high], chunk_members, hidden)
            if ranking:
                commands.append(("ZADD", keys.rebuild_ranking, *ranking))
            if held:
                commands.append(("HSET", keys.rebuild_hidden, *held))
            commands.append(("HSET", keys.rebuild_members, *by_user))
            commands.append(("HSET", PROFILES, *profiles))
            known = [
                item
                for user, v in zip(chunk_users, versions[low:high], strict=False)
                if v
                for item in (user, v)
            ]
            if known:
                commands.append(("HSET", keys.rebuild_versions, *known))
        expire = self.expire_at_ms(board_id, window_id)
        if expire and commands:  # a rebuild that dies half-way leaves nothing for ever
            for key in (
                keys.rebuild_ranking,
                keys.rebuild_members,
                keys.rebuild_versions,
                keys.rebuild_hidden,
            ):
                commands.append(("PEXPIREAT", key, expire))
        await self._send_bulk(commands)

    async def load_rebuild_hidden(self, board_id: str, window_id: str, users: Collection[str]) -> None:
        """Mark users hidden in the board being rebuilt before its entries are loaded, so that
        their later scores there stay out of its ranking too (apply.lua)."""
        if users:
            keys = BoardKeys(board_id, window_id)
            await self._redis.hset(keys.rebuild_hidden, mapping=dict.fromkeys(users, ""))  # type: ignore[misc]
            if expire := self.expire_at_ms(board_id, window_id):
                await self._redis.pexpireat(keys.rebuild_hidden, expire)

    async def moderate(self, board_id: str, window_id: str, hide: Mapping[str, bool]) -> int:
        """Hide users from a board window's ranking (True) or show them again (False); how many
        entries left or joined the ranking."""
        if not hide:
            return 0
        keys = BoardKeys(board_id, window_id)
        argv: list[str | int] = [self.expire_at_ms(board_id, window_id)]
        for user, hidden in hide.items():
            argv += [user, 1 if hidden else 0]
        return int(await self._scripts.moderate(keys=[keys.ranking, keys.members, keys.hidden], args=argv))

    async def _send_bulk(self, commands: list[tuple[object, ...]]) -> None:
        """Send commands in one pipeline and read every reply; an error reply raises. Packed in C
        by hiredis on a single Redis (redis_store/packing.py); a Cluster's pipeline sends each
        command to its key's node (the profiles hash is not on the board's shard)."""
        if not commands:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            await pipe.execute()

    async def finish_rebuild(self, board_id: str, window_id: str, lock_token: str, loaded: int) -> int | None:
        """Merge the live writes made meanwhile, swap the rebuilt board in and mark it ready, in
        one script. Returns how many live entries were merged, None when nothing was swapped
        (the lock was lost, or Redis lost the rebuild keys): the board stays not ready then."""
        keys = BoardKeys(board_id, window_id)
        expire = self.expire_at_ms(board_id, window_id)
        merged = int(
            await self._scripts.finish_rebuild(keys=_rebuild_keys(keys), args=[lock_token, loaded, expire])
        )
        return merged if merged >= 0 else None

    async def is_ready(self, board_id: str, window_id: str) -> bool:
        return bool(await self._redis.exists(BoardKeys(board_id, window_id).ready))

    async def mark_ready(self, board_id: str, window_id: str) -> None:
        await self._redis.set(BoardKeys(board_id, window_id).ready, b"1")

    async def top(
        self, board_id: str, window_id: str, limit: int, offset: int = 0, *, shared: bool = False
    ) -> list[RankedEntry] | None:
        """Ranked entries from Redis, or None when the window is not complete there (rebuilding)."""
        keys = BoardKeys(board_id, window_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.ready)
            pipe.zrevrange(keys.ranking, offset, offset + limit - 1, withscores=True)
            ready, rows = await pipe.execute()
        if not ready:
            return None
        scores = [int(score) for _, score in rows]
        if not shared:
            return await self.hydrate(rows, unique_ranks(len(rows), offset))
        first = 1
        if offset and rows:  # the first entry's shared rank: one more than the scores above it
            first += int(await self._redis.zcount(keys.ranking, f"({scores[0]}", "+inf"))
        return await self.hydrate(rows, shared_ranks(scores, offset, first))

    async def hydrate(self, rows: Sequence[tuple[bytes, float]], ranks: Sequence[int]) -> list[RankedEntry]:
        user_ids = [decode_member(member.decode())[0] for member, _ in rows]
        profiles = await self._redis.hmget(PROFILES, [str(u) for u in user_ids]) if rows else []  # type: ignore[misc]
        entries = []
        for (_, score), rank, user_id, profile in zip(rows, ranks, user_ids, profiles, strict=True):
            # No cached profile: fail closed (anonymous) rather than expose a private user.
            name, public = orjson.loads(profile) if profile else ("", False)
            entries.append(RankedEntry(rank, user_id, name, bool(public), int(score)))
        return entries

    async def score_and_rank(
        self, board_id: str, window_id: str, user_id: UUID, *, shared: bool = False
    ) -> tuple[int, int] | None:
        """(score, rank); None when the user has no score. Raises BoardNotReady while rebuilding."""
        found = await self.own_standing(board_id, window_id, user_id, shared=shared)
        return None if found is None else (found.score, found.rank)

    async def own_standing(
        self, board_id: str, window_id: str, user_id: UUID, *, shared: bool = False
    ) -> OwnStanding | None:
        """The user's own score and rank (where they would stand, if hidden); None when they have
        no score. Raises BoardNotReady while rebuilding."""
        keys = BoardKeys(board_id, window_id)
        raw = await self._scripts.score_and_rank(
            keys=[keys.ranking, keys.members, keys.ready, keys.hidden], args=[str(user_id)]
        )
        if raw == [-1]:
            raise BoardNotReady(board_id)
        if not raw:
            return None
        return OwnStanding(int(raw[0]), int(raw[2] if shared else raw[1]), bool(raw[3]))

    async def claim_top_change(
        self, board_id: str, window_id: str, size: int, coalesce_ms: int
    ) -> TopChange | TooSoon | None:
        """Claim the right to publish the board's new Top N; None when it has not changed."""
        keys = BoardKeys(board_id, window_id)
        raw = await self._scripts.claim_top_change(
            keys=[keys.ranking, keys.top_signature, keys.top_version, keys.top_published_ms],
            args=[size, coalesce_ms, self.expire_at_ms(board_id, window_id)],
        )
        if raw[0] == 0:
            return None
        if raw[0] == -1:
            return TooSoon(int(raw[1]))
        flat = raw[1:]
        rows = [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]
        return TopChange(int(raw[0]), rows)

    async def forget_top_claim(self, board_id: str, window_id: str) -> None:
        await self._redis.delete(BoardKeys(board_id, window_id).top_signature)

    async def top_version(self, board_id: str, window_id: str) -> int:
        return int(await self._redis.get(BoardKeys(board_id, window_id).top_version) or 0)


class BoardNotReady(Exception):
    """The board is being (re)built in Redis: read from the database meanwhile."""


# Either way, the caller reads from PostgreSQL instead.
REDIS_UNREADABLE: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, BoardNotReady)
