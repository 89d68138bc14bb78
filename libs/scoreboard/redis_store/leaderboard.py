"""The Redis leaderboard: absolute, order-safe writes and ranked reads.

Writes never use ZINCRBY: they copy a committed (score, reached_at) from PostgreSQL and apply it
only when it is newer than what Redis holds (scores only grow, so "newer" is "higher"). A retried
or reordered copy is therefore harmless, and two writers converge on the database's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

import hiredis
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import Connection, ConnectionPool

from scoreboard.domain.models import RankedEntry, ScoreState
from scoreboard.domain.ranking import decode_member, encode_member
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS
from scoreboard.redis_store.keys import PROFILES, BoardKeys
from scoreboard.redis_store.profiles import profile_value

# KEYS: ranking, members, emitted, ready.  ARGV: (user, score, member) triples.
# Returns per entry {applied, rank (1-based), needs_event, board_ready}.
_APPLY = """
local ready = redis.call('EXISTS', KEYS[4])
local out = {}
for i = 1, #ARGV, 3 do
  local user, score, member = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local old = redis.call('HGET', KEYS[2], user)
  local old_score = nil
  if old then old_score = tonumber(redis.call('ZSCORE', KEYS[1], old)) end
  local applied = 0
  if old_score == nil or score > old_score then
    if old then redis.call('ZREM', KEYS[1], old) end
    redis.call('ZADD', KEYS[1], score, member)
    redis.call('HSET', KEYS[2], user, member)
    applied = 1
  end
  local current_score = score
  if old_score ~= nil and old_score > score then current_score = old_score end
  local emitted = tonumber(redis.call('HGET', KEYS[3], user) or '-1')
  local needs_event = 0
  if emitted < score and score >= current_score then needs_event = 1 end
  local rank = redis.call('ZREVRANK', KEYS[1], redis.call('HGET', KEYS[2], user))
  out[#out + 1] = {applied, rank + 1, needs_event, ready}
end
return out
"""

# KEYS: emitted.  ARGV: user, score.  Remember that an event for this score is on the stream.
_MARK_EMITTED = """
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1') < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"""

# KEYS: ranking, members, ready.  ARGV: user.  Returns {score, rank} / {} / {-1} when not ready.
_SCORE_AND_RANK = """
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return {} end
local score = redis.call('ZSCORE', KEYS[1], member)
local rank = redis.call('ZREVRANK', KEYS[1], member)
if not score or not rank then return {} end
return {score, rank + 1}
"""

# KEYS: ranking, top signature, top version, top published-at.  ARGV: size, coalesce window (ms).
# Atomically decides whether the Top N changed since it was last published, at most once per
# window across every worker: {0} unchanged, {-1, wait_ms} too soon, {version, m1, s1, ...}.
_CLAIM_TOP_CHANGE = """
local rows = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local signature = table.concat(rows, ',')
if signature == (redis.call('GET', KEYS[2]) or '') then return {0} end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if now_ms - last < tonumber(ARGV[2]) then return {-1, tonumber(ARGV[2]) - (now_ms - last)} end
local version = tonumber(redis.call('GET', KEYS[3]) or '0') + 1
if version < now_ms then version = now_ms end
redis.call('SET', KEYS[2], signature)
redis.call('SET', KEYS[3], version)
redis.call('SET', KEYS[4], now_ms)
local out = {version}
for i = 1, #rows do out[#out + 1] = rows[i] end
return out
"""


# A full rebuild (services.worker.reconciler.rebuild) fills the temporary rebuild keys with plain
# bulk ZADD/HSET while the API keeps writing through to the live keys, then swaps them in here.
# KEYS: ranking, members, ready, rebuild ranking, rebuild members, rebuild lock.  ARGV: lock token.
# Returns 1, or 0 when the lock is not ours or the board is ready after all (someone else built it).
# The live keys are cleared too: while `ready` is missing nobody reads them, and everything in
# them was committed to PostgreSQL before this point, so the rebuild reads it again; what is
# written to them from now on is merged at the end. That bounds the final merge to those writes.
_BEGIN_REBUILD = """
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[4], KEYS[5])
return 1
"""

# KEYS: as _BEGIN_REBUILD.  ARGV: lock token, entries loaded into the rebuild keys.
# Atomically: merge every entry the live keys received during the rebuild into the rebuild keys
# (only if newer: a higher score, as _APPLY), rename those over the live keys, set `ready`.
# Returns the number of live entries merged; -1 when the lock is no longer ours (another rebuild
# may be using the rebuild keys), -2 when the rebuild keys lost entries (Redis flushed meanwhile):
# nothing is swapped then.
_FINISH_REBUILD = """
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return -1 end
local live = redis.call('HGETALL', KEYS[2])
local merged = 0
for i = 1, #live, 2 do
  local user, member = live[i], live[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score then
    local old = redis.call('HGET', KEYS[5], user)
    local old_score = nil
    if old then old_score = tonumber(redis.call('ZSCORE', KEYS[4], old)) end
    if old_score == nil or tonumber(score) > old_score then
      if old then redis.call('ZREM', KEYS[4], old) end
      redis.call('ZADD', KEYS[4], score, member)
      redis.call('HSET', KEYS[5], user, member)
      merged = merged + 1
    end
  end
end
if redis.call('ZCARD', KEYS[4]) < tonumber(ARGV[2]) then return -2 end
for _, pair in ipairs({{KEYS[4], KEYS[1]}, {KEYS[5], KEYS[2]}}) do
  if redis.call('EXISTS', pair[1]) == 1 then
    redis.call('RENAME', pair[1], pair[2])
  else
    redis.call('DEL', pair[2])
  end
end
redis.call('SET', KEYS[3], '1')
return merged
"""

REBUILD_CHUNK = 1_000  # entries per bulk command: Redis serves other clients between commands


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


# hiredis' stub declares a 1-tuple; it packs any number of arguments.
_pack: Callable[[tuple[object, ...]], bytes] = hiredis.pack_command  # type: ignore[assignment]


async def _checkout(pool: ConnectionPool) -> Connection:
    try:
        return await pool.get_connection()  # type: ignore[no-any-return]
    except TypeError:  # redis-py < 5.3 requires a command name (5.3 warns when given one)
        return await pool.get_connection("_")  # type: ignore[no-any-return]


def _rebuild_keys(keys: BoardKeys) -> list[str]:
    return [
        keys.ranking,
        keys.members,
        keys.ready,
        keys.rebuild_ranking,
        keys.rebuild_members,
        keys.rebuild_lock,
    ]


class Leaderboard:
    """One process's handle on the Redis side of every board."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._apply = redis.register_script(_APPLY)
        self._mark_emitted = redis.register_script(_MARK_EMITTED)
        self._score_and_rank = redis.register_script(_SCORE_AND_RANK)
        self._claim_top_change = redis.register_script(_CLAIM_TOP_CHANGE)
        self._begin_rebuild = redis.register_script(_BEGIN_REBUILD)
        self._finish_rebuild = redis.register_script(_FINISH_REBUILD)

    async def apply(self, states: Sequence[ScoreState]) -> list[ApplyOutcome]:
        """Apply committed states of one board, each only if newer than what Redis holds."""
        if not states:
            return []
        keys = BoardKeys(states[0].board_id)
        argv: list[str | int] = []
        for state in states:
            argv += [str(state.user_id), state.score, encode_member(state.user_id, state.reached_at_us)]
        raw = await self._apply(keys=keys.script_keys, args=argv)
        return [ApplyOutcome(bool(a), int(r), bool(e), bool(ready)) for a, r, e, ready in raw]

    async def queue_write_through(
        self, pipe: Pipeline, state: ScoreState, display_name: str, is_public: bool
    ) -> None:
        """The API's write-through, added to a pipeline: apply one state, cache the owner's profile.

        The pipeline's results then hold the apply's raw reply and the HSET's: see write_through_outcome.
        """
        keys = BoardKeys(state.board_id)
        member = encode_member(state.user_id, state.reached_at_us)
        args: list[str | int] = [str(state.user_id), state.score, member]
        await self._apply(keys=keys.script_keys, args=args, client=pipe)
        # Only when missing: a queued copy must not undo a later name or privacy change.
        pipe.hsetnx(PROFILES, str(state.user_id), profile_value(display_name, is_public))

    @staticmethod
    def write_through_outcome(raw: list[list[int]]) -> ApplyOutcome:
        applied, rank, needs_event, ready = raw[0]
        return ApplyOutcome(bool(applied), int(rank), bool(needs_event), bool(ready))

    async def mark_emitted(self, state: ScoreState) -> None:
        keys = BoardKeys(state.board_id)
        await self._mark_emitted(keys=[keys.emitted], args=[str(state.user_id), state.score])

    async def save_profiles(self, profiles: dict[UUID, tuple[str, bool]]) -> None:
        if profiles:
            await self._redis.hset(  # type: ignore[misc]  # redis-py types sync and async as one
                PROFILES,
                mapping={str(user): profile_value(name, public) for user, (name, public) in profiles.items()},
            )

    async def begin_rebuild(self, board_id: str, lock_token: str) -> bool:
        """Clear the rebuild keys (and the unread live ones) under the rebuild lock; False when
        the lock is not ours or the board turned out to be ready."""
        keys = BoardKeys(board_id)
        return bool(await self._begin_rebuild(keys=_rebuild_keys(keys), args=[lock_token]))

    async def load_rebuild_page(
        self,
        board_id: str,
        users: Sequence[str],
        scores: Sequence[int],
        members: Sequence[str],
        names: Sequence[str],
        public: Sequence[bool],
    ) -> None:
        """Add committed entries to the board being rebuilt (plain bulk ZADD/HSET into the
        rebuild keys, one round trip), and cache their owners' profiles. Each user appears at
        most once in a rebuild."""
        keys = BoardKeys(board_id)
        commands = []
        for low in range(0, len(users), REBUILD_CHUNK):
            high = low + REBUILD_CHUNK
            chunk_users, chunk_members = users[low:high], members[low:high]
            ranking: list[object] = [None] * (2 * len(chunk_users))
            ranking[0::2] = scores[low:high]
            ranking[1::2] = chunk_members
            by_user: list[object] = [None] * len(ranking)
            by_user[0::2] = chunk_users
            by_user[1::2] = chunk_members
            profiles: list[object] = [None] * len(ranking)
            profiles[0::2] = chunk_users
            profiles[1::2] = [
                orjson.dumps([n, p]) for n, p in zip(names[low:high], public[low:high], strict=True)
            ]
            commands.append(_pack(("ZADD", keys.rebuild_ranking, *ranking)))
            commands.append(_pack(("HSET", keys.rebuild_members, *by_user)))
            commands.append(_pack(("HSET", PROFILES, *profiles)))
        await self._send_packed(commands)

    async def _send_packed(self, commands: list[bytes]) -> None:
        """Send already packed commands in one write, like a pipeline, and read every reply.

        redis-py packs a pipeline in Python (about 3 us per member here, most of a rebuild's CPU);
        hiredis (a dependency: redis[hiredis]) packs the same in C. An error reply raises, and
        the connection is dropped rather than returned with replies left unread.
        """
        if not commands:
            return
        pool = self._redis.connection_pool
        connection = await _checkout(pool)
        try:
            await connection.send_packed_command(b"".join(commands))
            for _ in commands:
                await connection.read_response()
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    async def finish_rebuild(self, board_id: str, lock_token: str, loaded: int) -> int | None:
        """Merge the live writes made meanwhile, swap the rebuilt board in and mark it ready, in
        one script. Returns how many live entries were merged, None when nothing was swapped
        (the lock was lost, or Redis lost the rebuild keys): the board stays not ready then."""
        keys = BoardKeys(board_id)
        merged = int(await self._finish_rebuild(keys=_rebuild_keys(keys), args=[lock_token, loaded]))
        return merged if merged >= 0 else None

    async def is_ready(self, board_id: str) -> bool:
        return bool(await self._redis.exists(BoardKeys(board_id).ready))

    async def mark_ready(self, board_id: str) -> None:
        await self._redis.set(BoardKeys(board_id).ready, b"1")

    async def top(self, board_id: str, limit: int, offset: int = 0) -> list[RankedEntry] | None:
        """Ranked entries from Redis, or None when the board is not complete there (rebuilding)."""
        keys = BoardKeys(board_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.ready)
            pipe.zrevrange(keys.ranking, offset, offset + limit - 1, withscores=True)
            ready, rows = await pipe.execute()
        if not ready:
            return None
        return await self.hydrate(rows, first_rank=offset + 1)

    async def hydrate(self, rows: Sequence[tuple[bytes, float]], *, first_rank: int) -> list[RankedEntry]:
        user_ids = [decode_member(member.decode())[0] for member, _ in rows]
        profiles = await self._redis.hmget(PROFILES, [str(u) for u in user_ids]) if rows else []  # type: ignore[misc]
        entries = []
        for index, ((_, score), user_id, profile) in enumerate(zip(rows, user_ids, profiles, strict=True)):
            # No cached profile: fail closed (anonymous) rather than expose a private user.
            name, public = orjson.loads(profile) if profile else ("", False)
            entries.append(RankedEntry(first_rank + index, user_id, name, bool(public), int(score)))
        return entries

    async def score_and_rank(self, board_id: str, user_id: UUID) -> tuple[int, int] | None:
        """(score, rank); None when the user has no score. Raises BoardNotReady while rebuilding."""
        keys = BoardKeys(board_id)
        raw = await self._score_and_rank(keys=[keys.ranking, keys.members, keys.ready], args=[str(user_id)])
        if raw == [-1]:
            raise BoardNotReady(board_id)
        if not raw:
            return None
        return int(float(raw[0])), int(raw[1])

    async def claim_top_change(
        self, board_id: str, size: int, coalesce_ms: int
    ) -> TopChange | TooSoon | None:
        """Claim the right to publish the board's new Top N; None when it has not changed."""
        keys = BoardKeys(board_id)
        raw = await self._claim_top_change(
            keys=[keys.ranking, keys.top_signature, keys.top_version, keys.top_published_ms],
            args=[size, coalesce_ms],
        )
        if raw[0] == 0:
            return None
        if raw[0] == -1:
            return TooSoon(int(raw[1]))
        flat = raw[1:]
        rows = [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]
        return TopChange(int(raw[0]), rows)

    async def forget_top_claim(self, board_id: str) -> None:
        await self._redis.delete(BoardKeys(board_id).top_signature)

    async def top_version(self, board_id: str) -> int:
        return int(await self._redis.get(BoardKeys(board_id).top_version) or 0)


class BoardNotReady(Exception):
    """The board is being (re)built in Redis: read from the database meanwhile."""


# Either way, the caller reads from PostgreSQL instead.
REDIS_UNREADABLE: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, BoardNotReady)
