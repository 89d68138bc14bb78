-- Apply committed (score, reached_at) states of one board, each only if newer than what Redis holds.
-- KEYS: ranking, members, emitted, ready (one board: one hash slot).
-- ARGV: (user, score, member) triples.
-- Returns per entry {applied, rank (1-based), needs_event, board_ready}.
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
