-- Apply committed (score, reached_at) states of one board window, each only if newer than what
-- Redis holds: a higher version (the id of the event that made it: an adjustment may lower a
-- score), or, at an equal version, a higher score (entries from before versions are version 0).
-- A hidden user (banned or quarantined: moderate.lua) keeps their entry in `hidden`, out of the
-- ranking; their ranks are where they would stand if shown (their own view: nobody else's).
-- KEYS: ranking, members, emitted, ready, versions, hidden (one board window: one hash slot).
-- ARGV: expire-at (unix ms; 0: an all-time board, never), then (user, score, member, version)
-- quads.
-- Returns per entry {applied, rank (1-based), needs_event, board_ready, shared rank (1 + the
-- number of higher scores), hidden}.
-- include: _entries
local ready = redis.call('EXISTS', KEYS[4])
local out = {}
for i = 2, #ARGV, 4 do
  local user, score, member = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local version = tonumber(ARGV[i + 3])
  local old, old_score, hidden, old_version = held_entry(KEYS[1], KEYS[2], KEYS[5], KEYS[6], user)
  local newer = replaces(score, version, old_score, old_version)
  local same = old_score ~= nil and version == old_version and score == old_score
  local applied = 0
  if newer then
    if hidden then
      redis.call('HSET', KEYS[6], user, score)
    else
      if old then redis.call('ZREM', KEYS[1], old) end
      redis.call('ZADD', KEYS[1], score, member)
    end
    redis.call('HSET', KEYS[2], user, member)
    if version > 0 then redis.call('HSET', KEYS[5], user, version) end
    -- A lower score is announced too: forget the higher one announced before it.
    if old_score ~= nil and score < old_score then redis.call('HDEL', KEYS[3], user) end
    applied = 1
  end
  local emitted = tonumber(redis.call('HGET', KEYS[3], user) or '-1')
  local needs_event = 0
  if (newer or same) and emitted < score then needs_event = 1 end
  local current, current_score = redis.call('HGET', KEYS[2], user), score
  if not newer then current_score = old_score end
  if hidden then redis.call('ZADD', KEYS[1], current_score, current) end
  local rank = redis.call('ZREVRANK', KEYS[1], current)
  local shared = redis.call('ZCOUNT', KEYS[1], '(' .. current_score, '+inf') + 1
  if hidden then redis.call('ZREM', KEYS[1], current) end
  out[#out + 1] = {applied, rank + 1, needs_event, ready, shared, hidden and 1 or 0}
end
if tonumber(ARGV[1]) > 0 then
  -- A window's keys go once it is over (reads of past windows come from PostgreSQL).
  for _, k in ipairs({1, 2, 3, 5, 6}) do redis.call('PEXPIREAT', KEYS[k], ARGV[1]) end
  if ready == 1 then redis.call('PEXPIREAT', KEYS[4], ARGV[1]) end
end
return out
