"""Every Redis key, stream and queue name, in one place.

Keys of one board window share the hash tag `{board:<id>}` (all-time) or `{board:<id>:<window>}`,
so a Lua script that touches several of them stays valid on Redis Cluster, and each window of a
board may live on its own shard; limiter keys are tagged per IP or user, stagger keys per user
(ARCHITECTURE.md: Redis roles, decision 0015). A key without a tag is one key that no script
combines with another (the stream, the profiles hash, the watermarks). The event stream keeps
the name clients know from the contract. The job queue's keys are arq's, on the queue's Redis.
"""

from __future__ import annotations

EVENT_STREAM = "scores.updated"
JOB_QUEUE = "scoreboard:jobs"
PROFILES = "sb:profiles"  # HASH user id -> [display name, is public] (redis_store/profiles.py)
PROFILES_WATERMARK = "sb:profiles:watermark"  # STRING epoch seconds of the profile change feed
MODERATION_WATERMARK = "sb:moderation:watermark"  # STRING epoch seconds of the moderation feed
ANOMALY_LEADER = "sb:anomaly:leader"  # STRING the token of the worker running the anomaly watch
ANOMALY_CURSOR = "sb:anomaly:cursor"  # STRING the last score_events id the watch read
ANOMALY_CHECKPOINTS = "sb:anomaly:checkpoints"  # ZSET "<id>:<unix s>" by unix s: where it was, per minute
RATE_LIMIT_PREFIX = "sb:rl:"
RUNTIME_FLAGS = "sb:flags"  # STRING JSON {version, flags}: the gateway's copy (redis_store/flags_mirror.py)
SIGNED_OUT_PREFIX = "sb:admin-signed-out:"  # STRING per admin page session signed out, until its end


ALL_TIME = "all"


class BoardKeys:
    """The keys of one window of one board (an all-time board has the one window `all`)."""

    def __init__(self, board_id: str, window_id: str = ALL_TIME) -> None:
        tag = f"sb:{{board:{board_id}}}" if window_id == ALL_TIME else f"sb:{{board:{board_id}:{window_id}}}"
        board_tag = f"sb:{{board:{board_id}}}"
        self.board_id = board_id
        self.window_id = window_id
        self.ranking = f"{tag}:ranking"  # ZSET score -> encoded member (see domain.ranking)
        self.members = f"{tag}:members"  # HASH user id -> current encoded member
        self.emitted = f"{tag}:emitted"  # HASH user id -> last score announced on the stream
        self.versions = f"{tag}:versions"  # HASH user id -> event id of their entry (its version)
        self.hidden = f"{tag}:hidden"  # HASH user id -> score ('' if none) of a user kept out of ranking
        self.ready = f"{tag}:ready"  # STRING set once the board is complete (built or rebuilt)
        self.top_signature = f"{tag}:top:signature"  # STRING the last published Top 10
        self.top_version = f"{tag}:top:version"  # STRING version of that Top 10
        self.top_published_ms = f"{tag}:top:published"  # STRING when it was published
        self.rebuild_lock = f"{tag}:rebuild:lock"
        # A rebuild fills these, then renames them over ranking/members in one script (see
        # Leaderboard.finish_rebuild); whatever a crashed rebuild left in them is deleted first.
        self.rebuild_ranking = f"{tag}:rebuild:ranking"  # ZSET, as ranking
        self.rebuild_members = f"{tag}:rebuild:members"  # HASH, as members
        self.rebuild_versions = f"{tag}:rebuild:versions"  # HASH, as versions
        self.rebuild_hidden = f"{tag}:rebuild:hidden"  # HASH, as hidden
        # The board's own, whatever the window: how far its change feed was caught up.
        self.watermark = f"{board_tag}:reconciler:watermark"  # STRING epoch seconds
        self.change_cursor = f"{board_tag}:reconciler:cursor"  # STRING where a cut-short catch-up resumes
        self.safe_point = f"{board_tag}:reconciler:safe"  # STRING epoch seconds: nothing older can appear

    @property
    def script_keys(self) -> list[str]:
        return [self.ranking, self.members, self.emitted, self.ready, self.versions, self.hidden]


def rate_limit_key(scope: str, subject: str) -> str:
    """Tagged per subject (one IP, one user), so limiter state spreads over a Cluster's shards;
    the IP's and the user's logs are then in different slots, which is why a Cluster checks them
    one script call after the other (redis_store/rate_limit.py)."""
    return f"{RATE_LIMIT_PREFIX}{{{scope}:{subject}}}"


def ticket_stagger_key(user_id: str, action_type: str) -> str:
    """The last notBefore handed to this user for this type (tagged per user: spread on Cluster)."""
    return f"sb:{{user:{user_id}}}:stagger:{action_type}"


def apply_job_id(event_id: int) -> str:
    """One job per committed increment: a retried enqueue of it is deduplicated by arq."""
    return f"apply:{event_id}"
