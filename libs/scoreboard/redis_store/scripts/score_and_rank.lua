-- A user's score and rank on one board window. A hidden user (moderate.lua) is not in the
-- ranking: their ranks are where they would stand if shown, for their own view alone.
-- KEYS: ranking, members, ready, hidden (one board window: one hash slot).
-- ARGV: user.
-- Returns {score, rank, shared rank, hidden} / {} when the user has no score / {-1} when not ready.
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return {} end
local hidden = redis.call('HGET', KEYS[4], ARGV[1])
local score
if hidden then score = tonumber(hidden) else score = tonumber(redis.call('ZSCORE', KEYS[1], member)) end
if not score then return {} end
if hidden then redis.call('ZADD', KEYS[1], score, member) end
local rank = redis.call('ZREVRANK', KEYS[1], member)
local shared = redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') + 1
if hidden then redis.call('ZREM', KEYS[1], member) end
if not rank then return {} end
return {score, rank + 1, shared, hidden and 1 or 0}
